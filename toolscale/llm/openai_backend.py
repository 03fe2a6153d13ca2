"""The `openai` backend: any OpenAI-compatible server (OpenAI, `vllm serve`, llama.cpp's server).

Transient faults (429 honouring Retry-After, 5xx, timeouts, dropped connections) are retried by the
official client itself, `max_retries` times with exponential backoff and jitter. What still fails, and
every answer that is cut short, empty or off its schema after the repairs, comes back as an
`LLMFailure`: a model's answer or a server's fault never raises.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openai
from aiolimiter import AsyncLimiter

from toolscale.errors import ToolScaleError
from toolscale.llm.cache import ReplyCache, cache_key
from toolscale.llm.config import LLMConfig
from toolscale.llm.loop import LoopThread
from toolscale.llm.structured import repair_messages, response_format, schema_problem
from toolscale.llm.types import ChatReply, ChatRequest, LLMFailure, StageUsage
from toolscale.llm.usage import Price, UsageLedger


def api_key(config: LLMConfig) -> str:
    """The key from the variable the config names; local servers need none, but the client insists on one."""
    if config.api_key_env is None:
        return "unused"
    key = os.environ.get(config.api_key_env)
    if not key:
        raise ToolScaleError(f"llm.api_key_env: the environment variable {config.api_key_env} is not set")
    return key


def estimated_tokens(request: ChatRequest, max_tokens: int) -> int:
    """What a request may spend, for the tokens-per-minute limit: about 4 characters a token, plus the cap."""
    return len(json.dumps(request.messages)) // 4 + max_tokens


class _Answer:
    """One answer from the server, reduced to what a reply or a failure needs."""

    def __init__(self, response: Any) -> None:
        usage = getattr(response, "usage", None)
        # Some servers leave usage out, or its counts empty.
        self.input_tokens: int = (usage.prompt_tokens or 0) if usage is not None else 0
        self.output_tokens: int = (usage.completion_tokens or 0) if usage is not None else 0
        choice = response.choices[0] if response.choices else None
        self.answered = choice is not None
        self.finish_reason: str | None = choice.finish_reason if choice is not None else None
        message = choice.message if choice is not None else None
        self.text: str = (message.content or "") if message is not None else ""
        self.tool_calls: tuple[dict[str, Any], ...] = tuple(
            {"id": call.id, "type": "function", "function": {"name": call.function.name, "arguments": call.function.arguments}}
            for call in (message.tool_calls or [] if message is not None else [])
            if call.type == "function"
        )


class OpenAIClient:
    def __init__(self, config: LLMConfig, *, cache_path: Path | None, price: Price | None) -> None:
        # LLMConfig requires both for the openai backend.
        assert config.model is not None
        assert config.base_url is not None
        self._config = config
        self._model = config.model
        self._key = api_key(config)
        self._cache = ReplyCache(cache_path) if cache_path is not None else None
        self._ledger = UsageLedger(price)
        self._loop = LoopThread()
        self._client: openai.AsyncOpenAI | None = None
        self._in_flight: asyncio.Semaphore | None = None
        self._requests_limit: AsyncLimiter | None = None
        self._tokens_limit: AsyncLimiter | None = None
        self._loop.run(self._start())

    async def _start(self) -> None:
        # Made on the client's own loop, which they then belong to.
        config = self._config
        self._client = openai.AsyncOpenAI(
            base_url=config.base_url, api_key=self._key, max_retries=config.max_retries, timeout=config.timeout_s
        )
        self._in_flight = asyncio.Semaphore(config.concurrency)
        if config.requests_per_minute is not None:
            self._requests_limit = AsyncLimiter(config.requests_per_minute, 60)
        if config.tokens_per_minute is not None:
            self._tokens_limit = AsyncLimiter(config.tokens_per_minute, 60)

    def complete(self, requests: Sequence[ChatRequest]) -> list[ChatReply | LLMFailure]:
        return self._loop.run(self._complete_all(requests))

    def usage(self) -> dict[str, StageUsage]:
        return self._ledger.snapshot()

    def close(self) -> None:
        if self._client is not None:
            self._loop.run(self._client.close())
            self._client = None
        self._loop.close()
        if self._cache is not None:
            self._cache.close()

    async def _complete_all(self, requests: Sequence[ChatRequest]) -> list[ChatReply | LLMFailure]:
        return list(await asyncio.gather(*(self._complete_one(request) for request in requests)))

    def _params(self, request: ChatRequest) -> tuple[int, float]:
        max_tokens = request.max_tokens if request.max_tokens is not None else self._config.max_tokens
        temperature = request.temperature if request.temperature is not None else self._config.temperature
        return max_tokens, temperature

    async def _complete_one(self, request: ChatRequest) -> ChatReply | LLMFailure:
        max_tokens, temperature = self._params(request)
        key = cache_key("openai", self._model, {"max_tokens": max_tokens, "temperature": temperature}, request)
        if self._cache is not None and (hit := self._cache.get(key)) is not None:
            self._ledger.hit(request.stage)
            return hit
        assert self._in_flight is not None
        async with self._in_flight:
            outcome = await self._ask(request, max_tokens, temperature)
        if isinstance(outcome, LLMFailure):
            self._ledger.failed(request.stage)
        elif self._cache is not None:
            self._cache.put(key, outcome)
        return outcome

    async def _ask(self, request: ChatRequest, max_tokens: int, temperature: float) -> ChatReply | LLMFailure:
        """The first answer and, for a schema, up to `max_repairs` corrections of it."""
        messages = list(request.messages)
        input_tokens = output_tokens = 0
        seconds = 0.0
        attempts = 0
        while True:
            attempts += 1
            await self._admit(request, max_tokens)
            started = time.perf_counter()  # after the rate limits: seconds are the server's, not the queue's
            answer = await self._send(request, messages, max_tokens, temperature)
            seconds += time.perf_counter() - started
            if isinstance(answer, str):
                self._ledger.sent(request.stage, 0, 0)  # asked, though nothing came back to count
                return LLMFailure(reason="transport", detail=answer, attempts=attempts)
            self._ledger.sent(request.stage, answer.input_tokens, answer.output_tokens)
            input_tokens += answer.input_tokens
            output_tokens += answer.output_tokens
            if not answer.answered:
                return LLMFailure(reason="refused", detail="an answer without choices", attempts=attempts)
            if answer.finish_reason == "length" and not request.accept_partial:
                return LLMFailure(reason="too_long", detail=f"the answer reached max_tokens ({max_tokens})", attempts=attempts)
            if not answer.text and not answer.tool_calls and not request.accept_partial:
                detail = f"no content (finish_reason {answer.finish_reason})"
                return LLMFailure(reason="refused", detail=detail, attempts=attempts)
            parsed: Any = None
            if request.json_schema is not None:
                parsed, problem = schema_problem(request.json_schema, answer.text)
                if problem is not None:
                    if attempts > self._config.max_repairs:
                        return LLMFailure(reason="invalid", detail=problem, attempts=attempts)
                    messages += repair_messages(answer.text, problem)
                    continue
            return ChatReply(
                text=answer.text,
                parsed=parsed,
                tool_calls=answer.tool_calls,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                seconds=seconds,
                cached=False,
                attempts=attempts,
            )

    def _without_key(self, text: str) -> str:
        """A server's error text with the key blanked out, should the server have echoed what it was sent."""
        return text.replace(self._key, "[key]") if self._config.api_key_env is not None else text

    async def _admit(self, request: ChatRequest, max_tokens: int) -> None:
        """Waits until the requests- and tokens-per-minute limits let one more answer be asked."""
        if self._requests_limit is not None:
            await self._requests_limit.acquire()
        if self._tokens_limit is not None:
            # A request larger than a minute's budget waits for the whole budget rather than forever.
            await self._tokens_limit.acquire(min(estimated_tokens(request, max_tokens), self._tokens_limit.max_rate))

    async def _send(
        self, request: ChatRequest, messages: list[dict[str, Any]], max_tokens: int, temperature: float
    ) -> _Answer | str:
        """The server's answer, or why there is none after the client's retries."""
        assert self._client is not None
        options: dict[str, Any] = {}
        if (schema_format := response_format(request, self._config.response_format)) is not None:
            options["response_format"] = schema_format
        if request.tools is not None:
            options["tools"] = list(request.tools)
        if request.seed is not None:
            options["seed"] = request.seed
        try:
            response = await self._client.chat.completions.create(
                model=self._model,
                messages=messages,  # type: ignore[arg-type]  # OpenAI message dicts, as the caller built them
                max_tokens=max_tokens,
                temperature=temperature,
                **options,
            )
        except (openai.APIError, ValueError) as error:
            # ValueError: a body that is not JSON, which the client does not retry.
            return self._without_key(f"{type(error).__name__}: {error}")
        if isinstance(response, str) or not hasattr(response, "choices"):
            return "the server's answer is not a chat completion"
        return _Answer(response)
