"""Task records to deterministic Parquet shards: splits by a hash of the task id, fixed naming.

Everything here is a pure function returning bytes; callers decide where and how (atomically) to
write them, so the same code serves the pipeline's Ray tasks and small local exports.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from toolscale.atomic import write_atomically
from toolscale.data.schema import TASK_SCHEMA, row_to_task, task_to_row
from toolscale.tasks.record import ToolScaleTask

ROW_GROUP_ROWS = 1000  # small groups let streaming readers start early


SPLIT_ORDER = ("train", "validation", "test")  # the hash ranges are laid out in this order, whatever a config's order


def ordered_splits(splits: Mapping[str, float]) -> list[str]:
    return sorted(splits, key=lambda name: (SPLIT_ORDER.index(name) if name in SPLIT_ORDER else len(SPLIT_ORDER), name))


def split_of(task_id: str, splits: Mapping[str, float]) -> str:
    """The split a task belongs to, from its id alone: growing a run never moves a task."""
    position = int.from_bytes(hashlib.sha256(task_id.encode("utf-8")).digest()[:8], "big") / 2**64
    cumulative = 0.0
    names = ordered_splits(splits)
    for name in names:
        cumulative += splits[name]
        if position < cumulative:
            return name
    return names[-1]  # shares summing to 1 within rounding


def parquet_bytes(tasks: Sequence[ToolScaleTask]) -> bytes:
    """One Parquet file of records; same records, same bytes."""
    table = pa.Table.from_pylist([task_to_row(task) for task in tasks], schema=TASK_SCHEMA)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    return buffer.getvalue()


def read_parquet_tasks(data: bytes | Path) -> list[ToolScaleTask]:
    source = pa.BufferReader(data) if isinstance(data, bytes) else data
    return [row_to_task(row) for row in pq.read_table(source, schema=TASK_SCHEMA).to_pylist()]


def shard_name(prefix: str, number: int, total: int) -> str:
    return f"{prefix}-{number:05d}-of-{total:05d}.parquet"


def sharded(prefix: str, tasks: Sequence[ToolScaleTask], shard_size: int) -> dict[str, bytes]:
    """`prefix-0000i-of-0000n.parquet` files of at most `shard_size` rows; none for no tasks (readers
    such as `datasets` refuse a Parquet file without rows, so an empty split has no files)."""
    total = math.ceil(len(tasks) / shard_size)
    return {
        shard_name(prefix, number, total): parquet_bytes(tasks[number * shard_size : (number + 1) * shard_size])
        for number in range(total)
    }


def by_split(tasks: Sequence[ToolScaleTask], splits: Mapping[str, float]) -> dict[str, list[ToolScaleTask]]:
    """Tasks grouped by `split_of`, every split present, order kept."""
    groups: dict[str, list[ToolScaleTask]] = {split: [] for split in ordered_splits(splits)}
    for task in tasks:
        groups[split_of(task.id, splits)].append(task)
    return groups


def domain_shards(domain: str, groups: Mapping[str, Sequence[ToolScaleTask]], shard_size: int) -> dict[str, bytes]:
    """Every split's shards of one domain, keyed by path relative to the dataset root."""
    files: dict[str, bytes] = {}
    for split, members in groups.items():
        files |= sharded(f"data/{domain}/{split}", members, shard_size)
    return files


def write_files(root: Path, files: Mapping[str, bytes]) -> None:
    """Each file under root, atomically; one that already holds its bytes is left as it is (a resumed run
    rewrites nothing it need not)."""
    for relative, data in files.items():
        path = root / relative
        if not path.is_file() or path.read_bytes() != data:
            write_atomically(path, data)
