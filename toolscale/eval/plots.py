"""The summary's charts: accuracy against cost per policy (its Pareto front marked), and expert usage per policy.

Same figures, same bytes: the PNGs carry no timestamp or software version.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display; set before pyplot is imported
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from toolscale.eval.figures import ALL

Summary = Mapping[str, Mapping[str, Mapping[str, Any]]]


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def pareto_front(points: Mapping[str, tuple[float, float]]) -> list[str]:
    """Policies no other beats on both counts (at most the cost and at least the accuracy, one strictly), by cost."""
    front = [
        name
        for name, (cost, accuracy) in points.items()
        if not any(
            (other_cost <= cost and other_accuracy >= accuracy) and (other_cost, other_accuracy) != (cost, accuracy)
            for other_cost, other_accuracy in points.values()
        )
    ]
    return sorted(front, key=lambda name: points[name])


def pareto_png(summary: Summary) -> bytes:
    points = {policy: (domains[ALL]["cost"], domains[ALL]["accuracy"]) for policy, domains in summary.items()}
    figure, axes = plt.subplots(figsize=(7, 5), layout="constrained")
    for policy, (cost, accuracy) in points.items():
        axes.scatter([cost], [100 * accuracy], s=40)
        axes.annotate(policy, (cost, 100 * accuracy), textcoords="offset points", xytext=(5, 5), fontsize=9)
    front = pareto_front(points)
    axes.plot(
        [points[name][0] for name in front], [100 * points[name][1] for name in front], "--", color="grey", label="Pareto front"
    )
    axes.set_xlabel("mean cost per task ($)")
    axes.set_ylabel("accuracy, pass^1 (%)")
    axes.set_ylim(-5, 105)
    axes.set_title("Accuracy against cost, all domains")
    axes.legend(frameon=False)
    return _png(figure)


def experts_png(summary: Summary) -> bytes:
    """Mean expert calls per task, stacked by alias, one bar per policy."""
    policies = list(summary)
    aliases = sorted({alias for domains in summary.values() for alias in domains[ALL]["expert_calls"]})
    figure, axes = plt.subplots(figsize=(max(6, 1.2 * len(policies) + 2), 4.5), layout="constrained")
    bottom = [0.0] * len(policies)
    for alias in aliases:
        heights = [summary[policy][ALL]["expert_calls"].get(alias, 0.0) for policy in policies]
        axes.bar(policies, heights, bottom=bottom, label=alias)
        bottom = [base + height for base, height in zip(bottom, heights, strict=True)]
    axes.set_ylabel("expert calls per task")
    axes.set_title("Expert usage by alias, all domains")
    if aliases:
        axes.legend(frameon=False, fontsize=8)
    return _png(figure)
