"""The interface every backend implements and every caller uses: batches of chat requests in, replies out.

A request is plain data (messages, an optional JSON Schema, optional tools, sampling parameters), so it
hashes canonically for the cache and ships to a Ray worker. A reply is either text (with any tool calls)
or, for a request with a schema, the JSON that validated against it. A request that could not be
answered is an `LLMFailure` with its reason, never an exception: the caller records it and goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

from pydantic import Field

from toolscale.strict import StrictModel

FailureReason = Literal[
    "invalid",  # every answer, repairs included, failed the request's schema
    "refused",  # the server answered without content (a content filter, an empty choice)
    "transport",  # timeouts, 429, 5xx, dropped connections: still failing after the retries
    "too_long",  # the answer was cut at max_tokens
]


class ChatRequest(StrictModel):
    stage: str = Field(min_length=1, description="Who asks (rewrite, propose, expert, ...): usage is counted per stage.")
    messages: tuple[dict[str, Any], ...] = Field(min_length=1, description="OpenAI chat messages.")
    json_schema: dict[str, Any] | None = Field(default=None, description="Structured output: the answer must validate.")
    schema_name: str | None = Field(default=None, description="The schema's name, as response_format json_schema wants one.")
    tools: tuple[dict[str, Any], ...] | None = Field(default=None, description="OpenAI function tools the model may call.")
    max_tokens: int | None = Field(default=None, description="Default: the config's.")
    temperature: float | None = Field(default=None, description="Default: the config's.")
    seed: int | None = Field(default=None, description="Sent to servers that honour it; part of the cache key either way.")
    accept_partial: bool = Field(
        default=False,
        description="A chat turn (a policy, a simulated user): an answer cut at max_tokens, or empty, is still the "
        "model's turn and comes back as a reply, not as a too_long or refused failure.",
    )


class ChatReply(StrictModel):
    text: str
    parsed: Any = Field(default=None, description="The validated JSON, for a request with a schema.")
    tool_calls: tuple[dict[str, Any], ...] = ()  # OpenAI tool_call dicts: id, type, function {name, arguments}
    input_tokens: int
    output_tokens: int
    seconds: float  # measured when sent; the original request's figure when served from the cache
    cached: bool
    attempts: int = 1  # answers asked for: 1 + repairs


class LLMFailure(StrictModel):
    reason: FailureReason
    detail: str  # what went wrong, for the record (never holds a key)
    attempts: int


class StageUsage(StrictModel):
    requests: int = 0  # sent to a model (cache misses), repairs included
    cache_hits: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class LLMClient(Protocol):
    """One configured backend. `complete` answers a batch, in order, with the config's concurrency and limits."""

    def complete(self, requests: Sequence[ChatRequest]) -> list[ChatReply | LLMFailure]: ...

    def usage(self) -> dict[str, StageUsage]:
        """Per stage, since the client was made: what was sent, served from the cache, failed and cost."""
        ...

    def close(self) -> None: ...
