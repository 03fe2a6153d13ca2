"""Eval and training rollouts (`trajectories.jsonl` of `toolscale eval` and the trainer) for the review.

One JSON object a line, keyed by (policy, task_id, trial); the review reads the keys it shows and
ignores the rest, so writers may add keys freely.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from toolscale.errors import ToolScaleError

TRAJECTORIES_FILE = "trajectories.jsonl"
EXPERT_CALL = "call_expert"  # a step that asks a priced model, not a domain tool


class TrajectoryError(ToolScaleError, ValueError):
    """A trajectories file that cannot be read; the message names the file, the line and the reason."""


def trajectory_files(paths: Iterable[Path]) -> list[Path]:
    """Each path as given when it is a file, else every trajectories.jsonl below it, in name order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.rglob(TRAJECTORIES_FILE))
        elif path.is_file():
            files.append(path)
        else:
            raise TrajectoryError(f"{path}: no such trajectories file or directory")
    return files


def read_rollouts(files: Sequence[Path]) -> dict[str, list[dict[str, Any]]]:
    """Rollouts by task id, each task's in (source, policy, trial, step) order."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for path in files:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise TrajectoryError(f"{path}: cannot read trajectories: {error}") from error
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                rollout = json.loads(line)
            except json.JSONDecodeError as error:
                raise TrajectoryError(f"{path}:{number}: not JSON: {error.msg}") from error
            if not isinstance(rollout, dict) or not isinstance(rollout.get("task_id"), str):
                raise TrajectoryError(f"{path}:{number}: task_id: a rollout needs a task_id string")
            if not isinstance(rollout.get("steps", []), list):
                raise TrajectoryError(f"{path}:{number}: steps: must be a list")
            by_task.setdefault(rollout["task_id"], []).append(rollout)
    for rollouts in by_task.values():
        rollouts.sort(key=_order)
    return by_task


def _order(rollout: Mapping[str, Any]) -> tuple[str, str, int, int]:
    return (
        str(rollout.get("source", "")),
        str(rollout.get("policy", "")),
        int(rollout.get("trial") or 0),
        int(rollout.get("step") or 0),
    )


def divergence(steps: Sequence[Mapping[str, Any]], gold: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any] | None:
    """Where a rollout's tool calls first leave the gold actions (expert calls aside); None if they never do.

    `step` is the index of the rollout's step that differs (None when it stopped short of the gold
    actions), `gold` the index of the gold action it should have matched.
    """
    position = 0
    for step in steps:
        if step.get("name") == EXPERT_CALL:
            continue
        if position >= len(gold):
            return {
                "step": step.get("index"),
                "gold": position,
                "reason": f"an extra call {step.get('name')} after the gold actions",
            }
        name, arguments = gold[position]
        if step.get("name") != name:
            return {"step": step.get("index"), "gold": position, "reason": f"called {step.get('name')} where gold calls {name}"}
        if dict(step.get("arguments") or {}) != dict(arguments):
            return {"step": step.get("index"), "gold": position, "reason": f"{name} with other arguments than gold"}
        position += 1
    if position < len(gold):
        return {"step": None, "gold": position, "reason": f"stopped after {position} of {len(gold)} gold actions"}
    return None
