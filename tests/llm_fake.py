"""A test double of `LLMClient` for the scenario writer's and proposer's logic: it answers each request
with what a function of the request returns (JSON for a request with a schema, or an LLMFailure).
The pipeline's own tests and must-shows run against a real server instead."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from toolscale.llm.types import ChatReply, ChatRequest, LLMFailure, StageUsage

Answer = Callable[[ChatRequest], Any]
SCENARIO_FIELDS = ("reason_for_call", "known_info", "unknown_info", "task_instructions")


class FakeClient:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.asked: list[ChatRequest] = []

    def complete(self, requests: Sequence[ChatRequest]) -> list[ChatReply | LLMFailure]:
        self.asked += requests
        replies: list[ChatReply | LLMFailure] = []
        for request in requests:
            parsed = self.answer(request)
            if isinstance(parsed, LLMFailure):
                replies.append(parsed)
                continue
            replies.append(
                ChatReply(text=json.dumps(parsed), parsed=parsed, input_tokens=120, output_tokens=40, seconds=0.0, cached=False)
            )
        return replies

    def usage(self) -> dict[str, StageUsage]:
        return {}

    def close(self) -> None:
        pass


def template_fields(request: ChatRequest) -> dict[str, str]:
    """The grammar's scenario as the rewrite prompt shows it, one `field: text` line per field."""
    text = request.messages[-1]["content"]
    found = {name: re.search(rf"^{name}: (.*)$", text, re.MULTILINE) for name in SCENARIO_FIELDS}
    return {name: match.group(1) for name, match in found.items() if match is not None}
