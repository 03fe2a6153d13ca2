"""A policy behind any OpenAI-compatible chat endpoint with tool calling, through the official `openai` client.

The client retries what a server may answer transiently (429, 5xx, timeouts, dropped connections)
`max_retries` times with backoff, honouring Retry-After; a request still failing after that ends the
rollout with that error, recorded on the task, and the run goes on. Malformed tool calls (arguments
that are not JSON) reach the environment, which records them as failed tool calls.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import openai

from toolscale.eval.config import EndpointPolicy
from toolscale.train.rollout import Message, PolicyError, Reply, Turn


def client(config: EndpointPolicy) -> openai.OpenAI:
    # Local servers need no key, but the client insists on one.
    key = os.environ[config.api_key_env] if config.api_key_env is not None else "unused"
    return openai.OpenAI(base_url=config.base_url, api_key=key, max_retries=config.max_retries, timeout=config.timeout_s)


def openai_tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The training schemas less transformers' "return" entry, which OpenAI's function schema does not have."""
    return [
        {"type": "function", "function": {key: value for key, value in tool["function"].items() if key != "return"}}
        for tool in tools
    ]


class EndpointChat:
    def __init__(self, config: EndpointPolicy) -> None:
        self._config = config
        self._client = client(config)

    def act(self, turn: Turn) -> Reply:
        started = time.perf_counter()
        try:
            response = self._client.chat.completions.create(
                model=self._config.model,
                messages=list(turn.messages),  # type: ignore[arg-type]  # OpenAI message dicts, built by the rollout
                tools=openai_tools(turn.tools),  # type: ignore[arg-type]
                max_tokens=self._config.max_tokens,
                temperature=self._config.temperature,
            )
        except openai.APIError as error:
            raise PolicyError(f"{self._config.base_url}: {type(error).__name__}: {error}") from error
        seconds = time.perf_counter() - started
        if not response.choices:
            raise PolicyError(f"{self._config.base_url}: a response without choices")
        answer = response.choices[0].message
        message: Message = {"role": "assistant", "content": answer.content or ""}
        calls: list[dict[str, Any]] = [
            {"id": call.id, "type": "function", "function": {"name": call.function.name, "arguments": call.function.arguments}}
            for call in answer.tool_calls or []
            if call.type == "function"
        ]
        if calls:
            message["tool_calls"] = calls
        usage = response.usage
        return Reply(
            message=message,
            input_tokens=usage.prompt_tokens if usage is not None else 0,
            output_tokens=usage.completion_tokens if usage is not None else 0,
            seconds=seconds,
        )
