"""A policy behind any OpenAI-compatible chat endpoint with tool calling, through the LLM layer (toolscale.llm).

The layer's client retries what a server may answer transiently (429, 5xx, timeouts, dropped connections)
`max_retries` times with backoff, honouring Retry-After; a request still failing after that ends the
rollout with that error, recorded on the task, and the run goes on. Nothing is cached: the eval measures
each turn's latency. Malformed tool calls (arguments that are not JSON) reach the environment, which
records them as failed tool calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from toolscale.eval.config import EndpointPolicy
from toolscale.llm.config import LLMConfig
from toolscale.llm.factory import make_client
from toolscale.llm.types import ChatRequest, LLMFailure
from toolscale.train.rollout import Message, PolicyError, Reply, Turn


def llm_config(config: EndpointPolicy) -> LLMConfig:
    return LLMConfig(
        backend="openai",
        model=config.model,
        base_url=config.base_url,
        api_key_env=config.api_key_env,
        concurrency=config.concurrency,
        max_retries=config.max_retries,
        timeout_s=config.timeout_s,
        max_tokens=config.max_tokens,
        temperature=config.temperature,
    )


def openai_tools(tools: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The training schemas less transformers' "return" entry, which OpenAI's function schema does not have."""
    return tuple(
        {"type": "function", "function": {key: value for key, value in tool["function"].items() if key != "return"}}
        for tool in tools
    )


class EndpointChat:
    def __init__(self, config: EndpointPolicy) -> None:
        self._base_url = config.base_url
        self._client = make_client(llm_config(config), cache_path=None)

    def act(self, turn: Turn) -> Reply:
        request = ChatRequest(
            stage="policy",
            messages=tuple(dict(message) for message in turn.messages),
            tools=openai_tools(turn.tools),
            # A cut or empty answer is the policy's turn all the same: the environment scores it.
            accept_partial=True,
        )
        [answer] = self._client.complete([request])
        if isinstance(answer, LLMFailure):
            raise PolicyError(f"{self._base_url}: {answer.reason}: {answer.detail}")
        message: Message = {"role": "assistant", "content": answer.text}
        if answer.tool_calls:
            message["tool_calls"] = [dict(call) for call in answer.tool_calls]
        return Reply(
            message=message, input_tokens=answer.input_tokens, output_tokens=answer.output_tokens, seconds=answer.seconds
        )
