"""`toolscale review apply LABELS`: reviewers' labels merged into the output's append-only labels file.

Only labels of tasks in the output are taken (anything else is an error naming the line), and a
label already recorded is not written twice, so applying the same export again changes nothing.
The next `toolscale run` over the output exports without the flagged tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from toolscale.data.labels import LABELS_FILE, LabelError, label_line, read_labels, review_counts


@dataclass(frozen=True)
class Applied:
    added: int
    already: int
    counts: dict[str, int]  # reviewed, approved, flagged over every label recorded


def task_ids(output: Path) -> set[str]:
    """Ids of every kept task and rejected candidate of an output directory (one column read per shard)."""
    shards = [*sorted((output / "data").glob("*/*.parquet")), *sorted((output / "rejected").glob("*.parquet"))]
    return {task for path in shards for task in pq.read_table(path, columns=["id"]).column("id").to_pylist()}


def apply_labels(labels_path: Path, output: Path) -> Applied:
    if not labels_path.exists():
        raise LabelError(f"{labels_path}: no such labels file")
    new = read_labels(labels_path)
    known = task_ids(output)
    if not known:
        raise LabelError(f"{output}: no exported tasks; not a `toolscale run` output directory")
    text = labels_path.read_text(encoding="utf-8")
    lines = [number for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    for number, label in zip(lines, new, strict=True):
        if label.task_id not in known:
            raise LabelError(f"{labels_path}:{number}: task_id: {label.task_id!r} is not a task of {output}")
    target = output / LABELS_FILE
    recorded = read_labels(target)
    seen = {label_line(label) for label in recorded}
    added = [label for label in new if label_line(label) not in seen]
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as file:
        file.writelines(label_line(label) for label in added)
    return Applied(added=len(added), already=len(new) - len(added), counts=review_counts([*recorded, *added]))
