"""What the review site shows of one task: its page (scenario, timeline, diff, checks, rollouts) and its index row.

Pure functions of a record, its replayed steps and its rollouts; the site builder writes the results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypedDict

from toolscale.review.replay import ReplayedStep, communicated_at
from toolscale.review.trajectories import divergence
from toolscale.tasks.checks import CHECKS
from toolscale.tasks.record import REVIEWER_FLAGGED, ToolScaleTask

# The verifier's order (toolscale/tasks/verify.py), then the export's checks: checks on one line are
# evaluated together, and a candidate failing one line is not checked by later lines.
CHECK_ORDER: tuple[tuple[str, ...], ...] = (
    ("invalid_action", "action_failed"),
    ("no_state_change",),
    ("prefix_reaches_goal",),
    ("ungrounded_argument", "uncommunicable_info", "weak_communicate", "leaked_id"),
    ("nondeterministic",),
    ("redundant_action",),
    ("ambiguous_target",),
    ("duplicate",),
    ("near_duplicate",),
    (REVIEWER_FLAGGED,),
)
ALL_CHECKS: tuple[str, ...] = tuple(dict.fromkeys([*(check for line in CHECK_ORDER for check in line), *CHECKS]))
OBJECTIVES = ("accuracy", "cost", "latency")
# What a rollout's panel shows (the eval contract's keys); any other key is ignored.
ROLLOUT_KEYS = (
    *("policy", "source", "trial", "step", "outcome", "reward", "cost", "latency", "tool_calls", "expert_calls"),
    *("tool_errors", "tokens", "error", "steps", "messages", "final_hash"),
)


def task_kind(task: ToolScaleTask) -> str:
    """What the user wants: writes, information, a refusal beside allowed asks, or a conditional write."""
    return task.kind


def preference_label(task: ToolScaleTask) -> str:
    """The objective the preference weighs most, and whether the scenario states it in words."""
    preference = task.preference
    leaning = max(OBJECTIVES, key=lambda name: (getattr(preference, name), -OBJECTIVES.index(name)))
    return f"{leaning} · {'stated' if preference.statement else 'unstated'}"


class CheckVerdict(TypedDict):
    check: str
    status: Literal["passed", "failed", "not run"]
    detail: str | None


def check_verdicts(task: ToolScaleTask) -> list[CheckVerdict]:
    """Every check with `passed`, `failed` (and why) or `not run`."""
    failing = {reason.check: reason for reason in task.verification.reasons}
    line_of = {check: number for number, line in enumerate(CHECK_ORDER) for check in line}
    unknown = len(CHECK_ORDER)  # a check this module does not place: passed only when nothing failed
    first_failed = min((line_of.get(check, unknown) for check in failing), default=unknown + 1)
    verdicts: list[CheckVerdict] = []
    for check in ALL_CHECKS:
        if check in failing:
            verdicts.append(CheckVerdict(check=check, status="failed", detail=failing[check].detail))
        else:
            ran = line_of.get(check, unknown) <= first_failed and (not failing or check in line_of)
            verdicts.append(CheckVerdict(check=check, status="passed" if ran else "not run", detail=None))
    return verdicts


def failing_step(task: ToolScaleTask) -> int | None:
    indices = [reason.action_index for reason in task.verification.reasons if reason.action_index is not None]
    return min(indices) if indices else None


def task_page(
    task: ToolScaleTask,
    split: str | None,
    steps: Sequence[ReplayedStep],
    rollouts: Sequence[Mapping[str, Any]],
    tool_kinds: Mapping[str, str],
) -> dict[str, Any]:
    """Everything a task page shows, as plain JSON."""
    instructions = task.user_scenario.instructions
    scenario = instructions.model_dump() if not isinstance(instructions, str) else {"task_instructions": instructions}
    criteria = task.evaluation_criteria
    communicate = list((criteria.communicate_info if criteria else None) or [])
    gold = [(action.name, dict(action.arguments)) for action in (criteria.actions if criteria else None) or []]
    return {
        "id": task.id,
        "domain": task.domain,
        "verdict": task.verification.verdict,
        "split": split,
        "difficulty": task.difficulty,
        "kind": task_kind(task),
        "purpose": task.description.purpose if task.description else None,
        "persona": task.user_scenario.persona,
        "scenario": scenario,
        "steps": [{**step.model_dump(), "write": tool_kinds.get(step.name) == "write"} for step in steps],
        "failing_step": failing_step(task),
        "reasons": [reason.model_dump() for reason in task.verification.reasons],
        # A kept task passed every check: the page lists them from the summary instead of each page carrying them.
        "checks": check_verdicts(task) if task.verification.reasons else None,
        "diff": task.verification.expected_diff,
        "communicate": [{"info": info, "step": communicated_at(info, steps)} for info in communicate],
        "preference": task.preference.model_dump(),
        "pricing": {
            "experts": [{"alias": alias, **price.model_dump()} for alias, price in task.pricing.experts.items()],
            "tool_seconds_per_call": task.pricing.tool_seconds_per_call,
        },
        "database": task.database.model_dump(),
        "provenance": task.provenance.model_dump(),
        "expected_final_hash": task.verification.expected_final_hash,
        "rollouts": [_rollout(rollout, gold, task.verification.expected_final_hash) for rollout in rollouts],
    }


def _rollout(rollout: Mapping[str, Any], gold: Sequence[tuple[str, dict[str, Any]]], expected_hash: str) -> dict[str, Any]:
    shown = {key: rollout.get(key) for key in ROLLOUT_KEYS}
    shown["reached_gold_state"] = rollout.get("final_hash") == expected_hash
    shown["divergence"] = divergence(rollout.get("steps") or [], gold)
    return shown


def search_text(task: ToolScaleTask) -> str:
    """The words a reviewer searches for: purpose, scenario and the values the agent must tell."""
    instructions = task.user_scenario.instructions
    parts = [task.id, (task.description.purpose if task.description else None) or ""]
    if isinstance(instructions, str):
        parts.append(instructions)
    else:
        parts += [instructions.reason_for_call, instructions.known_info or "", instructions.task_instructions]
    if task.evaluation_criteria:
        parts += task.evaluation_criteria.communicate_info or []
    if task.preference.statement:
        parts.append(task.preference.statement)
    return " ".join(part for part in parts if part).lower()
