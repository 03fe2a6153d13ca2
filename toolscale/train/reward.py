"""DESIGN.md's Reward, exactly: outcome-gated, group min-max normalized, preference weighted.

For the G rollouts of one task each rollout has features: calls per expert alias, accuracy (the
outcome, 0/1), -cost and -latency. Each feature is min-max normalized within the group; a feature
with max = min is skipped (it adds nothing, to anyone). A rollout's reward is Σ P_f · norm_f when
its outcome is correct, and 0 otherwise. The outcome is correct when the episode's final state equals
the task's expected one with ids generated during the episode named by content (so any order of
independent writes that writes the same rows passes: `toolscale.engine.outcome`) and every
communicate_info string was told to the user in some assistant message, found by the same rule the
verifier's weak_communicate check uses (`toolscale.tasks.communicate`: case-insensitive, commas
ignored, numbers by value and other values as whole tokens).
The advantage (group z-score, clipped) is the trainer's; see `toolscale.train.trainer`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from toolscale.tasks.communicate import told
from toolscale.tasks.preference import Preference
from toolscale.tasks.record import ToolScaleTask
from toolscale.train.environment import Episode, ToolScaleEnvironment, episode_of

Gather = Callable[[list[Any]], list[Any]]
# Sees each process's scored rollouts: (environments, completions, rollouts, scores), the local slice.
OnScored = Callable[[Sequence[ToolScaleEnvironment], Sequence[Any], Sequence["Rollout"], Sequence["Scored"]], None]


@dataclass(frozen=True)
class Rollout:
    """What the reward needs of one finished rollout (picklable, so processes can gather them)."""

    weights: Mapping[str, float]  # P: accuracy, cost, latency and each alias
    correct: bool
    cost: float  # dollars: experts' tokens at the task's prices plus the orchestrator's own tokens
    latency: float  # seconds: priced (tools, simulated experts) or measured (endpoints)
    alias_calls: Mapping[str, int]  # calls per expert alias the task offers
    tool_calls: int
    tool_errors: int
    tokens: int  # the orchestrator's completion tokens, tool results included

    def features(self) -> dict[str, float]:
        return {
            "accuracy": float(self.correct),
            "cost": -self.cost,
            "latency": -self.latency,
            **{alias: float(count) for alias, count in self.alias_calls.items()},
        }


@dataclass(frozen=True)
class Scored:
    reward: float
    components: dict[str, float]  # P_f · norm_f per feature; 0 where skipped or the outcome is wrong


def weights_of(preference: Preference) -> dict[str, float]:
    return {"accuracy": preference.accuracy, "cost": preference.cost, "latency": preference.latency, **preference.aliases}


def outcome(task: ToolScaleTask, final_hash: str, replies: Sequence[str]) -> bool:
    """`final_hash`: the episode's outcome hash (`Episode.final_hash`, generated ids named by content)."""
    criteria = task.evaluation_criteria
    info = (criteria.communicate_info or []) if criteria is not None else []
    return final_hash == task.verification.expected_outcome_hash and told(info, replies)


def rollout(
    episode: Episode,
    replies: Sequence[str],
    tokens: int,
    orchestrator_price_per_million: float,
    weights: Mapping[str, float] | None = None,
) -> Rollout:
    task = episode.task
    aliases = task.pricing.experts
    tool_calls = [call for call in episode.calls if call.kind == "tool"]
    return Rollout(
        weights=dict(weights if weights is not None else weights_of(task.preference)),
        correct=outcome(task, episode.final_hash, replies),
        cost=sum(call.cost for call in episode.calls) + tokens * orchestrator_price_per_million / 1e6,
        latency=sum(call.seconds for call in episode.calls),
        alias_calls={alias: sum(call.kind == "expert" and call.name == alias for call in episode.calls) for alias in aliases},
        tool_calls=len(tool_calls),
        tool_errors=sum(not call.ok for call in tool_calls),
        tokens=tokens,
    )


def _tied(values: Sequence[float]) -> bool:
    # Costs summed from the same calls are equal; the tolerance only absorbs float summation order.
    return math.isclose(max(values), min(values), rel_tol=1e-12, abs_tol=1e-12)


def group_rewards(group: Sequence[Rollout]) -> list[Scored]:
    """The rewards of one task's rollouts (they share the task, hence its weights)."""
    weights = group[0].weights
    features = [rollout.features() for rollout in group]
    components: list[dict[str, float]] = [{} for _ in group]
    for name, weight in weights.items():
        values = [feature.get(name, 0.0) for feature in features]
        low, high, tied = min(values), max(values), _tied(values)
        for index, (value, rollout) in enumerate(zip(values, group, strict=True)):
            components[index][name] = 0.0 if tied or not rollout.correct else weight * (value - low) / (high - low)
    return [Scored(reward=sum(parts.values()), components=parts) for parts in components]


def replies_of(completion: Any) -> list[str]:
    """The assistant's text in a completion (a list of messages in conversational form, else plain text)."""
    if isinstance(completion, str):
        return [completion]
    return [str(message.get("content") or "") for message in completion if message.get("role") == "assistant"]


def _local(values: list[Any]) -> list[Any]:
    return values


class ToolScaleReward:
    """The reward function TRL calls with each batch's completions and their environments.

    Groups may span processes (TRL splits a generation batch contiguously across devices), so the
    rollouts are gathered first, in process order as TRL gathers rewards, scored per group of
    `group_size` consecutive rollouts, and each process returns its own slice.
    """

    __name__ = "toolscale"  # TRL names a reward function's logged columns after it

    def __init__(
        self,
        group_size: int,
        orchestrator_price_per_million: float,
        weights: Mapping[str, float] | None = None,
        gather: Gather = _local,
        process_index: int = 0,
        on_scored: OnScored | None = None,
    ) -> None:
        self.on_scored = on_scored
        self.group_size = group_size
        self.orchestrator_price_per_million = orchestrator_price_per_million
        self.weights = weights
        self.gather = gather
        self.process_index = process_index

    def __call__(
        self,
        prompts: list[Any],
        completions: list[Any],
        completion_ids: list[list[int]],
        environments: list[ToolScaleEnvironment],
        log_metric: Callable[[str, float], None] | None = None,
        **_: Any,
    ) -> list[float]:
        local = [
            rollout(episode_of(environment), replies_of(completion), len(ids), self.orchestrator_price_per_million, self.weights)
            for environment, completion, ids in zip(environments, completions, completion_ids, strict=True)
        ]
        rollouts: list[Rollout] = self.gather(local)
        if len(rollouts) % self.group_size:
            raise ValueError(f"{len(rollouts)} rollouts do not form groups of {self.group_size}")
        scored = [
            score
            for start in range(0, len(rollouts), self.group_size)
            for score in group_rewards(rollouts[start : start + self.group_size])
        ]
        if log_metric is not None:
            for name, value in batch_metrics(rollouts, scored).items():
                log_metric(name, value)
        first = self.process_index * len(local)
        mine = scored[first : first + len(local)]
        if self.on_scored is not None:
            self.on_scored(environments, completions, local, mine)
        return [score.reward for score in mine]


def batch_metrics(rollouts: Sequence[Rollout], scored: Sequence[Scored]) -> dict[str, float]:
    """Per-component reward mean and std, outcome rate, cost, latency, tool use, tokens (docs/training.md lists them)."""
    metrics: dict[str, float] = {}
    for name in sorted({name for score in scored for name in score.components}):
        values = [score.components.get(name, 0.0) for score in scored]
        # Aliases differ across tasks; they go under one prefix so the plot can group them.
        key = name if name in ("accuracy", "cost", "latency") else f"alias/{name}"
        metrics[f"reward/{key}/mean"] = statistics.fmean(values)
        metrics[f"reward/{key}/std"] = statistics.pstdev(values)
    tool_calls = sum(rollout.tool_calls for rollout in rollouts)
    metrics |= {
        "episode/correct": statistics.fmean(rollout.correct for rollout in rollouts),
        "episode/cost": statistics.fmean(rollout.cost for rollout in rollouts),
        "episode/latency_s": statistics.fmean(rollout.latency for rollout in rollouts),
        "episode/tool_calls": tool_calls / len(rollouts),
        "episode/expert_calls": statistics.fmean(sum(rollout.alias_calls.values()) for rollout in rollouts),
        "episode/tool_error_rate": sum(rollout.tool_errors for rollout in rollouts) / tool_calls if tool_calls else 0.0,
        "episode/tokens": statistics.fmean(rollout.tokens for rollout in rollouts),
    }
    return metrics
