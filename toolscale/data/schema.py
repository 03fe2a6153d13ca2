"""The Parquet layout of task records: one explicit pyarrow schema, and lossless conversion both ways.

Everything whose shape depends on the domain (tool arguments, outputs, state diffs, initial state)
travels as JSON text, so every domain shares one schema (DESIGN.md, decision 4). Alias-keyed maps
become lists of structs, which `datasets` and the Hub's viewer display as columns.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from toolscale.tasks.record import ToolScaleTask

_text = pa.string()
_texts = pa.list_(pa.string())

TASK_SCHEMA = pa.schema(
    [
        pa.field("id", _text, nullable=False),
        pa.field("domain", _text, nullable=False),
        pa.field("description", pa.struct([("purpose", _text), ("relevant_policies", _text), ("notes", _text)])),
        pa.field(
            "user_scenario",
            pa.struct(
                [
                    ("persona", _text),
                    (
                        "instructions",
                        pa.struct(
                            [
                                ("task_instructions", _text),
                                ("domain", _text),
                                ("reason_for_call", _text),
                                ("known_info", _text),
                                ("unknown_info", _text),
                            ]
                        ),
                    ),
                ]
            ),
            nullable=False,
        ),
        pa.field("ticket", _text),
        pa.field("initial_state", _text),  # JSON text
        pa.field(
            "evaluation_criteria",
            pa.struct(
                [
                    (
                        "actions",
                        pa.list_(
                            pa.struct(
                                [
                                    ("action_id", _text),
                                    ("requestor", _text),
                                    ("name", _text),
                                    ("arguments", _text),  # JSON text
                                    ("info", _text),
                                    ("compare_args", _texts),
                                ]
                            )
                        ),
                    ),
                    ("env_assertions", _text),  # JSON text
                    ("communicate_info", _texts),
                    ("nl_assertions", _texts),
                    ("reward_basis", _texts),
                ]
            ),
        ),
        pa.field("issues", _text),  # JSON text
        pa.field("database", pa.struct([("size", pa.int64()), ("seed", pa.int64()), ("state_hash", _text)]), nullable=False),
        pa.field("difficulty", _text, nullable=False),
        pa.field("kind", _text, nullable=False),
        pa.field(
            "preference",
            pa.struct(
                [
                    ("accuracy", pa.float64()),
                    ("cost", pa.float64()),
                    ("latency", pa.float64()),
                    ("aliases", pa.list_(pa.struct([("alias", _text), ("weight", pa.float64())]))),
                    ("statement", _text),
                ]
            ),
            nullable=False,
        ),
        pa.field(
            "pricing",
            pa.struct(
                [
                    (
                        "experts",
                        pa.list_(
                            pa.struct(
                                [
                                    ("alias", _text),
                                    ("model", _text),
                                    ("input_price_per_million", pa.float64()),
                                    ("output_price_per_million", pa.float64()),
                                    ("seconds_per_call", pa.float64()),
                                ]
                            )
                        ),
                    ),
                    ("tool_seconds_per_call", pa.float64()),
                ]
            ),
            nullable=False,
        ),
        pa.field(
            "provenance",
            pa.struct(
                [
                    ("seed", pa.int64()),
                    ("index", pa.int64()),
                    ("backend", _text),
                    ("toolscale_version", _text),
                    ("spec_fingerprint", _text),
                ]
            ),
            nullable=False,
        ),
        pa.field(
            "verification",
            pa.struct(
                [
                    ("verdict", _text),
                    ("reasons", pa.list_(pa.struct([("check", _text), ("detail", _text), ("action_index", pa.int64())]))),
                    ("expected_final_hash", _text),
                    ("expected_outcome_hash", _text),
                    ("expected_diff", _text),  # JSON text
                    (
                        "trace",
                        pa.list_(
                            pa.struct(
                                [
                                    ("name", _text),
                                    ("arguments", _text),  # JSON text
                                    ("ok", pa.bool_()),
                                    ("output", _text),  # JSON text
                                    ("error", _text),
                                    ("state_hash", _text),
                                ]
                            )
                        ),
                    ),
                ]
            ),
            nullable=False,
        ),
    ]
)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_or_none(value: Any) -> str | None:
    return None if value is None else _json(value)


def _parsed(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def task_to_row(task: ToolScaleTask) -> dict[str, Any]:
    """A record as one row of `TASK_SCHEMA`."""
    row: dict[str, Any] = task.model_dump(mode="json")
    row["initial_state"] = _json_or_none(row["initial_state"])
    row["issues"] = _json_or_none(row["issues"])
    criteria = row["evaluation_criteria"]
    if criteria is not None:
        criteria["env_assertions"] = _json_or_none(criteria["env_assertions"])
        for action in criteria["actions"] or []:
            action["arguments"] = _json(action["arguments"])
    preference = row["preference"]
    preference["aliases"] = [{"alias": alias, "weight": weight} for alias, weight in preference["aliases"].items()]
    pricing = row["pricing"]
    pricing["experts"] = [{"alias": alias, **price} for alias, price in pricing["experts"].items()]
    verification = row["verification"]
    verification["expected_diff"] = _json(verification["expected_diff"])
    for step in verification["trace"] or []:
        step["arguments"], step["output"] = _json(step["arguments"]), _json(step["output"])
    return row


def row_to_task(row: dict[str, Any]) -> ToolScaleTask:
    """The record a row of `TASK_SCHEMA` holds (as pyarrow, polars or `datasets` return it)."""
    data = json.loads(json.dumps(row))  # a deep copy made of plain containers
    data["initial_state"] = _parsed(data["initial_state"])
    data["issues"] = _parsed(data["issues"])
    criteria = data["evaluation_criteria"]
    if criteria is not None:
        criteria["env_assertions"] = _parsed(criteria["env_assertions"])
        for action in criteria["actions"] or []:
            action["arguments"] = json.loads(action["arguments"])
            if action["requestor"] is None:  # a column is never absent, but this field has a default, not a null
                del action["requestor"]
    preference = data["preference"]
    preference["aliases"] = {item["alias"]: item["weight"] for item in preference["aliases"]}
    pricing = data["pricing"]
    pricing["experts"] = {item.pop("alias"): item for item in pricing["experts"]}
    verification = data["verification"]
    verification["expected_diff"] = json.loads(verification["expected_diff"])
    for step in verification["trace"] or []:
        step["arguments"], step["output"] = json.loads(step["arguments"]), json.loads(step["output"])
    return ToolScaleTask.model_validate(data)
