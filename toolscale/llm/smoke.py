"""A batch of structured requests through `make_client`, printed with their validity and the usage.

`make vllm-smoke` runs it twice in .venv-vllm with the vllm backend and SmolLM2-135M: the first run asks
the model, the second must be served from the cache alone. The last line printed is a JSON summary
(replies, validity, usage) that tests/test_llm_vllm.py reads.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from toolscale.llm.config import LLMConfig
from toolscale.llm.factory import make_client
from toolscale.llm.types import ChatReply, ChatRequest


class Caller(BaseModel):
    """What a support agent notes about a caller: small enough for a 135M model to fill in."""

    name: str = Field(min_length=1)
    city: str = Field(min_length=1)
    wants_refund: bool


CALLS = (
    "Hi, this is Maria Lopez from Denver. My blender broke after two days and I want my money back.",
    "Hello, Tom Becker here, calling from Leeds. I'd just like to know when my parcel arrives.",
    "Good morning, I'm Aiko Tanaka in Osaka; the jacket I ordered is the wrong size, please refund me.",
    "Yes hi, Sam Okafor, Lagos. I want to change the delivery address of my order.",
)


# Longer than SmolLM2's 8192-token context: vLLM rejects it, and must answer the rest of its batch all the same.
OVERSIZED_CALL = "Hello, I am calling about my order. " * 1200


def requests(max_tokens: int, calls: tuple[str, ...]) -> list[ChatRequest]:
    schema = Caller.model_json_schema()
    return [
        ChatRequest(
            stage="smoke",
            messages=(
                {"role": "system", "content": "Answer with JSON only: the caller's name, city and whether they want a refund."},
                {"role": "user", "content": call},
            ),
            json_schema=schema,
            schema_name="caller",
            max_tokens=max_tokens,
        )
        for call in calls
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description="A batch of structured requests through one backend.")
    parser.add_argument("--backend", choices=["openai", "vllm"], default="vllm")
    parser.add_argument("--model", required=True, help="a model folder (vllm) or a served model name (openai)")
    parser.add_argument("--base-url", default=None, help="the server, for backend openai")
    parser.add_argument("--cache", type=Path, required=True, help="the SQLite reply cache")
    parser.add_argument("--max-tokens", type=int, default=96, help="per answer (a few: every answer is cut short)")
    parser.add_argument("--oversized", action="store_true", help="add a request longer than the model's context")
    arguments = parser.parse_args()
    config = LLMConfig(backend=arguments.backend, model=arguments.model, base_url=arguments.base_url)
    calls = (*CALLS, OVERSIZED_CALL) if arguments.oversized else CALLS
    client = make_client(config, cache_path=arguments.cache)
    try:
        outcomes = client.complete(requests(arguments.max_tokens, calls))
        usage = client.usage()
    finally:
        client.close()
    replies = []
    for call, outcome in zip(calls, outcomes, strict=True):
        if isinstance(outcome, ChatReply):
            try:
                Caller.model_validate(outcome.parsed)
                valid = True
            except ValidationError:
                valid = False
            entry = {"text": outcome.text, "valid": valid, "cached": outcome.cached, "attempts": outcome.attempts}
        else:
            entry = {"failure": outcome.reason, "detail": outcome.detail, "attempts": outcome.attempts}
        print(f"{call[:100]}\n  -> {json.dumps(entry, ensure_ascii=False)[:300]}")
        replies.append(entry)
    summary = {"replies": replies, "usage": {stage: stats.model_dump() for stage, stats in usage.items()}}
    print(json.dumps(summary, ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    main()
