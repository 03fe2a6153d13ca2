"""The figures a ToolOrchestra reader expects, per policy and domain (and "all"), from results.jsonl lines.

accuracy is pass^1: the mean outcome over every trial of every task. pass^k, as τ²-bench reports it, is
the chance that k trials drawn from a task's n all succeed, C(c, k) / C(n, k) for c successes, averaged
over tasks. Cost ($), latency (s), tool and expert calls are means per rollout; the tool-error rate is
failed tool calls over tool calls. Preference adherence is over rollouts of tasks that state a preference:
the share that never called an alias the user weighs negatively and, when the statement names a model to
ask, sent every expert call to it.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

ALL = "all"


def pass_hat_k(successes: Sequence[int], trials: int, k: int) -> float:
    """τ²-bench's pass^k over tasks that each have `trials` trials, `successes[i]` of them successful."""
    return statistics.fmean(math.comb(count, k) / math.comb(trials, k) for count in successes)


def honoured(result: Mapping[str, Any], preference: Mapping[str, Any]) -> bool:
    """The stated preference kept: no avoided alias called, and every expert call to the favoured one when named."""
    calls: Mapping[str, int] = result["expert_calls"]
    avoided = [alias for alias, weight in preference["aliases"].items() if weight < 0]
    if any(calls.get(alias, 0) for alias in avoided):
        return False
    favourite = preference.get("favourite")
    return favourite is None or all(count == 0 or alias == favourite for alias, count in calls.items())


def _figures(results: Sequence[Mapping[str, Any]], preferences: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    by_task: dict[str, list[bool]] = defaultdict(list)
    for result in results:
        by_task[result["task_id"]].append(bool(result["outcome"]))
    trials = min(len(outcomes) for outcomes in by_task.values())
    successes = [sum(outcomes[:trials]) for outcomes in by_task.values()]
    tool_calls = sum(result["tool_calls"] for result in results)
    aliases = sorted({alias for result in results for alias in result["expert_calls"]})
    stated = [result for result in results if preferences.get(result["task_id"], {}).get("stated")]
    return {
        "accuracy": statistics.fmean(bool(result["outcome"]) for result in results),
        "cost": statistics.fmean(result["cost"] for result in results),
        "latency": statistics.fmean(result["latency"] for result in results),
        "tasks": len(by_task),
        "trials": trials,
        "pass^k": {str(k): pass_hat_k(successes, trials, k) for k in range(1, trials + 1)},
        "tool_calls": tool_calls / len(results),
        "expert_calls": {
            alias: statistics.fmean(result["expert_calls"].get(alias, 0) for result in results) for alias in aliases
        },
        "expert_calls_total": statistics.fmean(sum(result["expert_calls"].values()) for result in results),
        "tool_error_rate": sum(result["tool_errors"] for result in results) / tool_calls if tool_calls else 0.0,
        "preference_adherence": (
            statistics.fmean(honoured(result, preferences[result["task_id"]]) for result in stated) if stated else None
        ),
        "stated_preferences": len({result["task_id"] for result in stated}),
        "reward": statistics.fmean(result["reward"]["total"] for result in results),
        "tokens": {
            "input": statistics.fmean(result["tokens"]["input"] for result in results),
            "output": statistics.fmean(result["tokens"]["output"] for result in results),
        },
        "errors": sum(result["error"] is not None for result in results),
    }


def summarize(results: Iterable[Mapping[str, Any]], preferences: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """{policy: {domain: figures, ..., "all": figures}}, policies in first-seen order, domains sorted."""
    grouped: dict[str, dict[str, list[Mapping[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for result in results:
        grouped[result["policy"]][result["domain"]].append(result)
        grouped[result["policy"]][ALL].append(result)
    return {
        policy: {domain: _figures(domains[domain], preferences) for domain in [*sorted(set(domains) - {ALL}), ALL]}
        for policy, domains in grouped.items()
    }


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def markdown_table(summary: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """One row per policy and domain: the columns of ToolOrchestra's tables plus tool use and adherence."""
    header = [
        "policy",
        "domain",
        "tasks",
        "accuracy (pass^1)",
        "pass^k",
        "cost ($)",
        "latency (s)",
        "tool calls",
        "expert calls by alias",
        "tool errors",
        "preference adherence",
        "errors",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for policy, domains in summary.items():
        for domain, figures in domains.items():
            trials = figures["trials"]
            experts = ", ".join(f"{alias} {count:.2f}" for alias, count in figures["expert_calls"].items()) or "-"
            cells = [
                policy,
                f"**{domain}**" if domain == ALL else domain,
                str(figures["tasks"]),
                _percent(figures["accuracy"]),
                f"pass^{trials} {_percent(figures['pass^k'][str(trials)])}",
                f"{figures['cost']:.4f}",
                f"{figures['latency']:.2f}",
                f"{figures['tool_calls']:.2f}",
                experts,
                _percent(figures["tool_error_rate"]),
                _percent(figures["preference_adherence"]),
                str(figures["errors"]),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
