"""The run's verification funnel as a picture: per domain, where every generated candidate went."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # files only, no display; set before pyplot is imported
import matplotlib.pyplot as plt


def funnel_png(funnels: Mapping[str, Mapping[str, int]], stages: Sequence[str]) -> bytes:
    """A horizontal stacked bar per domain: kept, then each rejection reason (stages between 'generated'
    and 'kept'). Same figures, same bytes: the PNG carries no timestamp or software version."""
    domains = sorted(funnels)
    outcomes = ["kept", *[stage for stage in stages if stage not in ("generated", "kept")]]
    colours = plt.get_cmap("tab20")
    figure, axes = plt.subplots(figsize=(10, 0.4 * len(domains) + 1.2), layout="constrained")
    left = [0] * len(domains)
    for number, outcome in enumerate(outcomes):
        widths = [funnels[domain].get(outcome, 0) for domain in domains]
        if not any(widths):
            continue
        axes.barh(domains, widths, left=left, label=outcome, color=colours(number % colours.N))
        left = [start + width for start, width in zip(left, widths, strict=True)]
    axes.invert_yaxis()
    axes.set_xlabel("candidates generated")
    axes.set_title("Verification funnel: kept tasks and the first reason each rejected candidate failed")
    figure.legend(loc="outside right upper", frameon=False, fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()
