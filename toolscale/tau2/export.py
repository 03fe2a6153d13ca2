"""Every task record ToolScale writes, read back for `toolscale tau2 export`.

Records come as JSONL (`toolscale tau2 import` writes upstream tasks with their domain; `toolscale
synth` writes synthesized tasks with everything synthesis and verification know) or as pipeline
shards (one Parquet file, a folder of them, or a whole pipeline output). Each record's `to_upstream()`
keeps upstream's fields only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from toolscale.data.schema import row_to_task
from toolscale.tasks.record import ToolScaleTask
from toolscale.tasks.upstream import TaskRecord
from toolscale.tau2.tasks import TaskFileError, validated

# A synthesized record carries the verifier's verdict; an imported upstream task does not.
SYNTHESIZED_MARKER = "verification"


def read_exportable(path: Path) -> list[TaskRecord]:
    if path.is_dir():
        data = path / "data"  # a pipeline output: its kept tasks, not its rejected candidates
        shards = sorted((data if data.is_dir() else path).rglob("*.parquet"))
        if not shards:
            raise TaskFileError(f"{path}: no Parquet shards in this folder")
        return [record for shard in shards for record in _read_shard(shard)]
    if path.suffix == ".parquet":
        return _read_shard(path)
    return _read_jsonl(path)


def _read_shard(path: Path) -> list[TaskRecord]:
    try:
        rows = pq.read_table(path).to_pylist()
    except (OSError, ValueError) as error:
        raise TaskFileError(f"{path}: cannot read Parquet shard: {error}") from error
    records: list[TaskRecord] = []
    for number, row in enumerate(rows):
        try:
            records.append(row_to_task(row))
        except (KeyError, TypeError, ValueError) as error:
            raise TaskFileError(f"{path}: row {number}: not a ToolScale task row: {error}") from error
    return records


def _read_jsonl(path: Path) -> list[TaskRecord]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise TaskFileError(f"{path}: cannot read task records: {error}") from error
    records: list[TaskRecord] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise TaskFileError(f"{path}: line {number}: not JSON: {error}") from error
        model = ToolScaleTask if isinstance(item, dict) and SYNTHESIZED_MARKER in item else TaskRecord
        records.append(validated(model, item, f"{path}: line {number}"))
    return records
