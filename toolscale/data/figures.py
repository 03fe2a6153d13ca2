"""Per-domain figures of how much a dataset teaches: wording variety, near-duplicates, the mix of task kinds.

- `reason_for_call_3gram_ratio`: distinct over total word 3-grams (words: runs of letters, digits and
  apostrophes, lowercased) of reason_for_call, pooled over samples of `SAMPLE_SIZE` tasks (τ²-bench
  retail has 114 tasks and measures 0.58 so): the kept tasks in order, cut into whole samples (one
  sample of all of them when fewer); the mean and the lowest sample are given.
- `near_duplicate_share`: kept tasks sharing writes and wording with another (`toolscale.tasks.near_duplicates`).
- `kinds`: kept tasks per kind (the record's `kind`: write, information, refusal, conditional).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, get_args

from toolscale.tasks.near_duplicates import near_duplicate_share, task_key
from toolscale.tasks.record import TaskKind, ToolScaleTask

SAMPLE_SIZE = 114
KINDS: tuple[str, ...] = get_args(TaskKind)
_WORD = re.compile(r"[a-z0-9']+")


def trigram_ratio(texts: Sequence[str]) -> float:
    grams: list[tuple[str, ...]] = []
    for text in texts:
        words = _WORD.findall(text.lower())
        grams += [tuple(words[index : index + 3]) for index in range(len(words) - 2)]
    return len(set(grams)) / len(grams) if grams else 0.0


def reason_for_call(task: ToolScaleTask) -> str:
    instructions = task.user_scenario.instructions
    return instructions if isinstance(instructions, str) else instructions.reason_for_call


def domain_figures(kept: Sequence[ToolScaleTask], tool_kinds: Mapping[str, str]) -> dict[str, Any]:
    texts = [reason_for_call(task) for task in kept]
    samples = [texts[start : start + SAMPLE_SIZE] for start in range(0, len(texts) - SAMPLE_SIZE + 1, SAMPLE_SIZE)] or [texts]
    ratios = [trigram_ratio(sample) for sample in samples]
    kinds: Counter[str] = Counter(task.kind for task in kept)
    return {
        "reason_for_call_3gram_ratio": {
            "mean": round(sum(ratios) / len(ratios), 4),
            "min": round(min(ratios), 4),
            "samples": len(samples),
            "sample_size": min(SAMPLE_SIZE, len(texts)),
        },
        "near_duplicate_share": round(near_duplicate_share([task_key(task, tool_kinds) for task in kept]), 4),
        "kinds": {kind: kinds.get(kind, 0) for kind in KINDS},
    }
