"""`load_tasks`: exported task shards from a local output directory or a Hub dataset repo."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import datasets

ALL_DOMAINS = "all"  # the card's config holding every domain's kept tasks
REJECTED = "rejected"  # the card's config holding rejected candidates, for reviewers


def load_tasks(
    source: str | Path,
    domains: str | Sequence[str] | None = None,
    split: str = "train",
    *,
    streaming: bool = False,
) -> datasets.Dataset | datasets.IterableDataset:
    """Kept tasks of `domains` (default: all) in `split`, as rows of `toolscale.data.TASK_SCHEMA`.

    `source` is a pipeline output directory or a Hub dataset repo id ("org/name"); with `streaming`
    rows are read as they are needed instead of downloaded and cached first. `row_to_task` turns a
    row back into a `ToolScaleTask`. Pass domains="rejected" for the rejected candidates.
    """
    names = [ALL_DOMAINS] if domains is None else [domains] if isinstance(domains, str) else list(domains)
    if not names:
        raise ValueError("load_tasks: 'domains' is empty; pass None for every domain")
    parts = [datasets.load_dataset(str(source), name, split=split, streaming=streaming) for name in names]
    if len(parts) == 1:
        return parts[0]
    if streaming:
        # Alternate domains, each row exactly once: the default strategy stops at the shortest domain.
        return datasets.interleave_datasets(parts, stopping_strategy="all_exhausted_without_replacement")
    return datasets.concatenate_datasets(parts)
