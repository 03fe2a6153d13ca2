"""Task rows for the trainer: read from shards, a Hub repo or a kept.jsonl, each given its prompt.

The prompt (τ²'s solo mode by default) holds the domain policy, what the experts cost for this task,
and the user's request; TRL adds the tool schemas from the environment's methods. Each row keeps
every task column, so the environment's `reset(**row)` rebuilds the full `ToolScaleTask`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import datasets
import pyarrow as pa

from toolscale.data.load import load_tasks
from toolscale.data.schema import TASK_SCHEMA, row_to_task, task_to_row
from toolscale.domain.loader import domain_dir
from toolscale.tasks.catalog import load_catalog
from toolscale.tasks.record import ToolScaleTask
from toolscale.train.config import DataConfig

TASK_COLUMNS = frozenset(TASK_SCHEMA.names)


@cache
def policy(domain: str) -> str:
    return (domain_dir(domain) / "policy.md").read_text(encoding="utf-8").strip()


def request(task: ToolScaleTask) -> str:
    """What the user says: why they call, what they know, and their instructions.

    The instructions hold what the reward grades beyond the database: the "ask the agent to tell you …" requests
    (every communicate_info must be told) and the stated preference. Both modes carry all of it, so a policy is never
    graded on something it was not shown; in user mode ask_user can still be used to confirm or clarify.
    """
    instructions = task.user_scenario.instructions
    if isinstance(instructions, str):
        return instructions
    parts = [instructions.reason_for_call, instructions.known_info or "", instructions.task_instructions or ""]
    statement = task.preference.statement
    if statement and statement not in "\n".join(parts):
        parts.append(statement)
    return "\n".join(part for part in parts if part)


def _good_at(model: str) -> str:
    """What the catalog says a model is good at, for the menu; nothing for a model it does not list."""
    listed = load_catalog().model(model)
    return "" if listed is None else "; good at " + ", ".join(listed.strengths)


def pricing(task: ToolScaleTask) -> str:
    """The task's expert menu: the policy must read the prices, not memorize them (DESIGN.md, Reward)."""
    lines = [
        f"- {alias}: {price.model}, ${price.input_price_per_million:g} per million input tokens, "
        f"${price.output_price_per_million:g} per million output tokens, about {price.seconds_per_call:g} s per call"
        + _good_at(price.model)
        for alias, price in task.pricing.experts.items()
    ]
    return (
        "Experts you may consult with call_expert(expert, question):\n"
        + "\n".join(lines)
        + f"\nEach tool call takes about {task.pricing.tool_seconds_per_call:g} s."
    )


def prompt(task: ToolScaleTask, *, solo: bool = True) -> list[dict[str, str]]:
    mode = (
        "You work alone: the request below is all the user says. Make the changes it asks for with your tools, then "
        "reply with what the user asked to be told."
        if solo
        else "The request below is what the user said first; ask them with ask_user(question) to confirm or clarify "
        "anything, then make the changes and reply with what they asked to be told."
    )
    system = f"{policy(task.domain)}\n\n{mode}\n\n{pricing(task)}"
    return [{"role": "system", "content": system}, {"role": "user", "content": request(task)}]


def task_from_row(row: dict[str, Any]) -> ToolScaleTask:
    """The record in a trainer row (which also carries the prompt and TRL's columns)."""
    return row_to_task({key: value for key, value in row.items() if key in TASK_COLUMNS})


def _with_prompt(row: dict[str, Any], solo: bool) -> dict[str, Any]:
    task = task_from_row(row)
    return {"prompt": prompt(task, solo=solo), "environment": task.domain}


def _jsonl_rows(path: Path, domains: list[str] | None) -> datasets.Dataset:
    tasks = [ToolScaleTask.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [task_to_row(task) for task in tasks if domains is None or task.domain in domains]
    return datasets.Dataset(pa.Table.from_pylist(rows, schema=TASK_SCHEMA))


def training_rows(config: DataConfig, *, solo: bool = True) -> datasets.Dataset | datasets.IterableDataset:
    """The task rows with `prompt` and `environment` (the domain, which picks the tool set) added."""
    source = Path(config.source)
    if source.suffix == ".jsonl":
        rows: datasets.Dataset | datasets.IterableDataset = _jsonl_rows(source, config.domains)
        if config.limit is not None:
            rows = rows.select(range(min(config.limit, len(rows))))
        if config.streaming:
            rows = rows.to_iterable_dataset()
    else:
        rows = load_tasks(config.source, config.domains, config.split, streaming=config.streaming)
        if config.limit is not None:
            rows = rows.take(config.limit)
    return rows.map(_with_prompt, fn_kwargs={"solo": solo})
