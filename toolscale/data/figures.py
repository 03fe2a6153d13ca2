"""Per-domain figures of how much a dataset teaches: wording variety, near-duplicates, the mix of task kinds.

- `reason_for_call_3gram_ratio`: distinct over total word 3-grams (words: runs of letters, digits and
  apostrophes, lowercased) of reason_for_call, pooled over samples of `SAMPLE_SIZE` tasks (τ²-bench
  retail has 114 tasks and measures 0.58 so): the kept tasks in order, cut into whole samples (one
  sample of all of them when fewer); the mean and the lowest sample are given.
- `near_duplicate_share`: kept tasks sharing writes and wording with another (`toolscale.tasks.near_duplicates`).
- `kinds`: kept tasks per kind (write, information, refusal, conditional).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from toolscale.tasks.near_duplicates import near_duplicate_share, task_key
from toolscale.tasks.record import ToolScaleTask

SAMPLE_SIZE = 114
KINDS = ("write", "information", "refusal", "conditional")
_WORD = re.compile(r"[a-z0-9']+")
# The template backend's wording of a conditional ask ("if the balance left in ... is then below 52120").
_CONDITIONAL = re.compile(r"\bif\b.+\bis then below\b")


def trigram_ratio(texts: Sequence[str]) -> float:
    grams: list[tuple[str, ...]] = []
    for text in texts:
        words = _WORD.findall(text.lower())
        grams += [tuple(words[index : index + 3]) for index in range(len(words) - 2)]
    return len(set(grams)) / len(grams) if grams else 0.0


def task_kind(task: ToolScaleTask, writes: int) -> str:
    """The task's `kind` where the record has one; else derived from what it holds: no write is an information
    task, an nl_assertion marks a refusal, the conditional wording a conditional task."""
    kind = getattr(task, "kind", None)
    if isinstance(kind, str):
        return kind
    criteria = task.evaluation_criteria
    instructions = task.user_scenario.instructions
    words = instructions if isinstance(instructions, str) else instructions.reason_for_call
    if writes == 0:
        return "information"
    if criteria is not None and criteria.nl_assertions:
        return "refusal"
    if _CONDITIONAL.search(words):
        return "conditional"
    return "write"


def reason_for_call(task: ToolScaleTask) -> str:
    instructions = task.user_scenario.instructions
    return instructions if isinstance(instructions, str) else instructions.reason_for_call


def domain_figures(kept: Sequence[ToolScaleTask], tool_kinds: Mapping[str, str]) -> dict[str, Any]:
    texts = [reason_for_call(task) for task in kept]
    samples = [texts[start : start + SAMPLE_SIZE] for start in range(0, len(texts) - SAMPLE_SIZE + 1, SAMPLE_SIZE)] or [texts]
    ratios = [trigram_ratio(sample) for sample in samples]
    kinds = Counter(task_kind(task, sum(tool_kinds.get(action.name) == "write" for action in task.actions)) for task in kept)
    return {
        "reason_for_call_3gram_ratio": {
            "mean": round(sum(ratios) / len(ratios), 4),
            "min": round(min(ratios), 4),
            "samples": len(samples),
            "sample_size": min(SAMPLE_SIZE, len(texts)),
        },
        "near_duplicate_share": round(near_duplicate_share([task_key(task, tool_kinds) for task in kept]), 4),
        "kinds": {kind: kinds.get(kind, 0) for kind in KINDS} | dict(sorted(kinds.items())),
    }
