"""DESIGN.md's Reward on hand-computed groups: mixed outcomes, ties (max = min), all wrong, avoided aliases."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from toolscale.train.reward import Rollout, Scored, ToolScaleReward, group_rewards, told


def rollout(weights: Mapping[str, float], correct: bool, cost: float = 0.0, latency: float = 0.0, **calls: int) -> Rollout:
    return Rollout(
        weights=weights,
        correct=correct,
        cost=cost,
        latency=latency,
        alias_calls={alias.replace("_", "-"): count for alias, count in calls.items()},
        tool_calls=1,
        tool_errors=0,
        tokens=10,
    )


def rewards(scored: list[Scored]) -> list[float]:
    return [score.reward for score in scored]


def test_a_mixed_group_is_normalized_per_feature_and_gated_by_the_outcome() -> None:
    weights = {"accuracy": 0.4, "cost": 0.4, "latency": 0.2, "expert-1": 0.0}
    group = [
        rollout(weights, True, cost=1.0, latency=2.0, expert_1=0),
        rollout(weights, True, cost=3.0, latency=2.0, expert_1=1),
        rollout(weights, False, cost=0.0, latency=4.0, expert_1=0),
        rollout(weights, True, cost=2.0, latency=1.0, expert_1=0),
    ]
    # -cost [-1, -3, 0, -2] -> [2/3, 0, 1, 1/3]; -latency [-2, -2, -4, -1] -> [2/3, 2/3, 0, 1]; accuracy -> [1, 1, 0, 1]
    scored = group_rewards(group)
    assert rewards(scored) == pytest.approx([0.4 + 0.4 * 2 / 3 + 0.2 * 2 / 3, 0.4 + 0.2 * 2 / 3, 0.0, 0.4 + 0.4 / 3 + 0.2])
    assert scored[0].components == pytest.approx({"accuracy": 0.4, "cost": 0.4 * 2 / 3, "latency": 0.2 * 2 / 3, "expert-1": 0.0})
    assert scored[2].components == {"accuracy": 0.0, "cost": 0.0, "latency": 0.0, "expert-1": 0.0}


def test_tied_features_are_skipped() -> None:
    weights = {"accuracy": 0.5, "cost": 0.3, "latency": 0.2}
    # All correct, same cost: accuracy and cost have max = min and add nothing; latency alone ranks them.
    group = [rollout(weights, True, cost=1.0, latency=1.0), rollout(weights, True, cost=1.0, latency=3.0)]
    scored = group_rewards(group)
    assert rewards(scored) == pytest.approx([0.2, 0.0])
    assert scored[0].components == pytest.approx({"accuracy": 0.0, "cost": 0.0, "latency": 0.2})


def test_a_fully_tied_group_scores_zero() -> None:
    weights = {"accuracy": 0.6, "cost": 0.4}
    assert rewards(group_rewards([rollout(weights, True, cost=2.0)] * 3)) == [0.0, 0.0, 0.0]


def test_an_all_wrong_group_scores_zero_whatever_it_cost() -> None:
    weights = {"accuracy": 0.5, "cost": 0.3, "latency": 0.2}
    group = [rollout(weights, False, cost=c, latency=c) for c in (0.0, 1.0, 5.0)]
    assert rewards(group_rewards(group)) == [0.0, 0.0, 0.0]


def test_an_avoided_alias_lowers_the_reward_of_those_who_call_it() -> None:
    weights = {"accuracy": 0.5, "expert-2": -0.5}
    group = [rollout(weights, True, expert_2=0), rollout(weights, True, expert_2=2), rollout(weights, False, expert_2=1)]
    # accuracy [1, 1, 0] -> +0.5 for the correct ones; calls [0, 2, 1] -> [0, 1, 0.5] times -0.5
    assert rewards(group_rewards(group)) == pytest.approx([0.5, 0.0, 0.0])


def test_told_ignores_case_and_commas_like_tau2_and_finds_values_whole() -> None:
    assert told(["2,648.40", "Savings"], ["Your balance is 2648.40.", "your savings account"])
    assert told(["2648.40"], ["Your balance is $2,648.4"])  # a number is found by its value
    assert not told(["70"], ["Your card expires in 1970.", "Transaction TXN-0070 is posted."])  # not inside another token
    assert not told(["gold"], ["You are a golden member."])
    assert not told(["2648.40"], ["Your balance is 2648.41"])
    assert told([], [])


class _Episode:
    """Stands in for an environment: the reward reads only its finished `Rollout` through `rollout()`."""


def test_groups_spanning_processes_are_scored_whole_and_sliced_back(monkeypatch: pytest.MonkeyPatch) -> None:
    weights = {"accuracy": 1.0}
    mine = [rollout(weights, True), rollout(weights, False)]  # process 1's half of a group of 4
    other = [rollout(weights, False), rollout(weights, False)]  # process 0's half
    made = iter(mine)
    monkeypatch.setattr("toolscale.train.reward.rollout", lambda *_: next(made))
    monkeypatch.setattr("toolscale.train.reward.episode_of", lambda environment: environment)
    reward = ToolScaleReward(
        group_size=4, orchestrator_price_per_million=0.0, gather=lambda local: other + local, process_index=1
    )
    logged: dict[str, float] = {}
    environments: list[Any] = [_Episode(), _Episode()]
    result = reward(
        prompts=[[], []],
        completions=[[], []],
        completion_ids=[[1], [2]],
        environments=environments,
        log_metric=logged.__setitem__,
    )
    # Only one rollout of the whole group is correct: it alone gets the accuracy weight.
    assert result == [1.0, 0.0]
    assert logged["episode/correct"] == 0.25
    assert logged["reward/accuracy/mean"] == 0.25
