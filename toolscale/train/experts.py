"""Priced model tools: what `call_expert(expert, question)` reaches behind a task's aliases.

A task's pricing says which concrete model stands behind each alias (expert-1..N) and what it costs.
Offline, `SimulatedExpert` answers deterministically: with the model's configured quality it gives
the next step of the task's gold actions, otherwise a plausible wrong step, so the trade-off between
a cheap weak expert and a pricey strong one can be trained and tested without any LLM server.
`EndpointExpert` asks a real OpenAI-compatible endpoint (OpenAI, `vllm serve`, llama.cpp's server) through
the LLM layer (toolscale.llm), which retries transient faults; an expert still unanswered is a failed call.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from toolscale.llm.config import LLMConfig
from toolscale.llm.factory import make_client
from toolscale.llm.types import ChatRequest, LLMClient, LLMFailure
from toolscale.tasks.preference import ModelPrice
from toolscale.train.config import ExpertModel, ExpertsConfig


@dataclass(frozen=True)
class ExpertAnswer:
    text: str
    input_tokens: int
    output_tokens: int
    seconds: float  # the call's latency: priced for a simulated expert, measured for an endpoint
    error: str | None = None  # an endpoint that could not answer, after its retries


@dataclass(frozen=True)
class ExpertContext:
    """What an expert may know of the episode: the task and how far the agent has got."""

    task_id: str
    policy: str
    request: str
    gold_steps: Sequence[tuple[str, dict[str, Any]]]  # the task's gold actions, in order
    done_steps: int  # how many of them the agent has already made successfully, in order
    tool_names: Sequence[str]
    calls_so_far: int  # expert calls earlier in this episode: repeated questions get fresh draws


class Expert(Protocol):
    def ask(self, model: str, price: ModelPrice, question: str, context: ExpertContext) -> ExpertAnswer: ...


def estimated_tokens(text: str) -> int:
    """OpenAI's rule of thumb (about four characters a token), for simulated answers without a tokenizer."""
    return max(1, math.ceil(len(text) / 4))


def _step_text(name: str, arguments: dict[str, Any]) -> str:
    return f"Call {name} with {json.dumps(arguments, sort_keys=True)}."


class SimulatedExpert:
    def __init__(self, config: ExpertsConfig) -> None:
        self._config = config

    def quality(self, model: str) -> float:
        known = self._config.models.get(model)
        return known.quality if known is not None else self._config.default_quality

    def _draw(self, *parts: object) -> float:
        """A uniform number in [0, 1) fixed by its inputs: same episode, same question, same answer."""
        digest = hashlib.sha256(json.dumps([self._config.seed, *parts], default=str).encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def ask(self, model: str, price: ModelPrice, question: str, context: ExpertContext) -> ExpertAnswer:
        key = (context.task_id, model, question, context.calls_so_far)
        if context.done_steps >= len(context.gold_steps):
            text = "Everything the request needs is done; report the results to the user."
        elif self._draw("right", *key) < self.quality(model):
            name, arguments = context.gold_steps[context.done_steps]
            text = _step_text(name, arguments)
        else:
            # A wrong but well-formed step: another tool with the right arguments is what weak models get wrong.
            name, arguments = context.gold_steps[context.done_steps]
            others = [tool for tool in context.tool_names if tool != name] or [name]
            wrong = others[int(self._draw("wrong", *key) * len(others))]
            text = _step_text(wrong, arguments)
        return ExpertAnswer(
            text=text,
            input_tokens=estimated_tokens(context.policy) + estimated_tokens(context.request) + estimated_tokens(question),
            output_tokens=estimated_tokens(text),
            seconds=price.seconds_per_call,
        )


class EndpointExpert:
    """Chat completions against the OpenAI-compatible endpoints named in the experts config, one client per model.

    Clients are made on first use: a run whose experts are all simulated starts none.
    """

    def __init__(self, config: ExpertsConfig, timeout: float = 120.0) -> None:
        self._config = config
        self._timeout = timeout
        self._clients: dict[str, LLMClient] = {}
        self._lock = threading.Lock()

    def _client(self, model: str) -> LLMClient:
        with self._lock:
            if model not in self._clients:
                served = self._config.models[model]
                assert served.endpoint is not None, "routed here only for models with an endpoint"
                config = LLMConfig(
                    backend="openai",
                    model=served.served_name or model,
                    base_url=served.endpoint,
                    api_key_env=served.api_key_env,
                    max_tokens=served.max_tokens,
                    timeout_s=self._timeout,
                )
                self._clients[model] = make_client(config, cache_path=None)
            return self._clients[model]

    def ask(self, model: str, price: ModelPrice, question: str, context: ExpertContext) -> ExpertAnswer:
        messages = (
            {"role": "system", "content": f"You advise a support agent.\n\n{context.policy}\n\nThe request:\n{context.request}"},
            {"role": "user", "content": question},
        )
        [reply] = self._client(model).complete([ChatRequest(stage="expert", messages=messages)])
        if isinstance(reply, LLMFailure):
            return ExpertAnswer(text="", input_tokens=0, output_tokens=0, seconds=0.0, error=f"{reply.reason}: {reply.detail}")
        return ExpertAnswer(
            text=reply.text,
            input_tokens=reply.input_tokens,
            # A server that reports no usage is billed by the answer's length.
            output_tokens=reply.output_tokens or estimated_tokens(reply.text),
            seconds=reply.seconds,
        )


class ExpertRouter:
    """Routes each model to its endpoint when the config names one, else to the simulation."""

    def __init__(self, config: ExpertsConfig) -> None:
        self._config = config
        self._simulated = SimulatedExpert(config)
        self._endpoint = EndpointExpert(config)

    def price(self, model: str, drawn: ModelPrice) -> ModelPrice:
        """The task's drawn price, with any override the config sets for this model."""
        served: ExpertModel | None = self._config.models.get(model)
        if served is None:
            return drawn
        return ModelPrice(
            model=model,
            input_price_per_million=_first(served.input_price_per_million, drawn.input_price_per_million),
            output_price_per_million=_first(served.output_price_per_million, drawn.output_price_per_million),
            seconds_per_call=_first(served.seconds_per_call, drawn.seconds_per_call),
        )

    def ask(self, model: str, price: ModelPrice, question: str, context: ExpertContext) -> ExpertAnswer:
        served = self._config.models.get(model)
        expert: Expert = self._endpoint if served is not None and served.endpoint is not None else self._simulated
        return expert.ask(model, price, question, context)


def _first(override: float | None, default: float) -> float:
    return default if override is None else override
