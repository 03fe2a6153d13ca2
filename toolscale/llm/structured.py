"""Structured output: the answer to a request with a schema must be JSON that validates against it.

A failing answer is asked again in the same conversation, with the answer and what was wrong with it,
so the model can repair it rather than start over.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from toolscale.llm.config import SchemaFormat
from toolscale.llm.types import ChatRequest


def response_format(request: ChatRequest, kind: SchemaFormat) -> dict[str, Any] | None:
    """The `response_format` that asks the server itself to hold the answer to the schema."""
    if request.json_schema is None:
        return None
    if kind == "json_object":
        return {"type": "json_object", "schema": request.json_schema}
    name = request.schema_name or "answer"
    return {"type": "json_schema", "json_schema": {"name": name, "schema": request.json_schema, "strict": True}}


def schema_problem(schema: dict[str, Any], text: str) -> tuple[Any, str | None]:
    """The parsed answer and None, or None and why the answer does not fit the schema."""
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"the answer is not JSON: {error}"
    mismatch = jsonschema.exceptions.best_match(jsonschema.validators.validator_for(schema)(schema).iter_errors(parsed))
    if mismatch is None:
        return parsed, None
    where = "/".join(str(part) for part in mismatch.absolute_path) or "the top level"
    return None, f"at {where}: {mismatch.message}"


def repair_messages(text: str, problem: str) -> list[dict[str, Any]]:
    """What is added to the conversation to ask for a corrected answer."""
    return [
        {"role": "assistant", "content": text},
        {
            "role": "user",
            "content": f"That answer does not match the required JSON schema ({problem}). "
            "Reply again with only the corrected JSON.",
        },
    ]
