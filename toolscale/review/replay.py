"""Gold actions replayed on the task's database: what each one returned and which rows it changed.

Kept records carry no trace (only rejected ones keep the verifier's), and no record keeps the rows
a single step changed, so the review replays every task once through the same engine the verifier
used. The replay is deterministic: it shows what the verifier saw.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from toolscale.engine.database import DomainDatabase
from toolscale.engine.environment import StateDiff
from toolscale.tasks.record import ToolScaleTask, TraceRecord


class ReplayedStep(TraceRecord):
    """A trace step as the verifier records one, with the rows the step changed."""

    changes: dict[str, dict[str, Any]]  # a StateDiff: rows this step changed, before it and after it, per table and key


def replay(database: DomainDatabase, task: ToolScaleTask) -> list[ReplayedStep]:
    steps: list[ReplayedStep] = []
    with database.fork() as env:
        previous: StateDiff = {}
        previous_hash = env.state_hash()
        for action in (task.evaluation_criteria.actions if task.evaluation_criteria else None) or []:
            observation = env.call(action.name, dict(action.arguments))
            state_hash = env.state_hash()
            changes: StateDiff = {}
            if state_hash != previous_hash:
                current = env.state_diff()
                changes = step_changes(previous, current)
                previous, previous_hash = current, state_hash
            steps.append(
                ReplayedStep(
                    name=action.name,
                    arguments=dict(action.arguments),
                    ok=observation.ok,
                    output=observation.output,
                    error=observation.error,
                    state_hash=state_hash,
                    changes=changes,
                )
            )
    return steps


def step_changes(previous: StateDiff, current: StateDiff) -> StateDiff:
    """The rows that differ between two diffs from the same start, each as it was before and after the step."""
    changes: StateDiff = {}
    for table in sorted(set(previous) | set(current)):
        old, new = previous.get(table, {}), current.get(table, {})
        for key in sorted(set(old) | set(new)):
            was, now = old.get(key), new.get(key)
            if was == now:
                continue
            start = (was or now or {}).get("before")  # the row at the episode's start
            before = was["after"] if was is not None else start
            after = now["after"] if now is not None else start
            if before != after:
                changes.setdefault(table, {})[key] = {"before": before, "after": after}
    return changes


def communicated_at(info: str, steps: Sequence[ReplayedStep]) -> int | None:
    """The first step whose output holds a value the agent must tell the user (None: none does)."""
    for index, step in enumerate(steps):
        if step.ok and info in _text(step.output):
            return index
    return None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
