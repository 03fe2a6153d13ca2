"""The trainer's task source checked before training starts: a missing folder, an unknown domain or a
corrupt shard is one line naming the file, not a traceback minutes into loading a model."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pydantic

from toolscale.errors import ToolScaleError
from toolscale.tasks.record import ToolScaleTask
from toolscale.train.config import DataConfig


class TaskSourceError(ToolScaleError):
    """A task source that cannot be trained on; the message names the file or folder and the reason."""


def _is_hub_id(source: str) -> bool:
    """'org/name' and nothing that reads as a local path."""
    parts = source.split("/")
    return len(parts) == 2 and all(parts) and not source.startswith((".", "~")) and not source.endswith(".jsonl")


def check_source(config: DataConfig) -> None:
    source = Path(config.source)
    if source.suffix == ".jsonl":
        _check_jsonl(source, config.domains)
    elif source.is_dir():
        _check_output_folder(source, config.domains, config.split)
    elif not _is_hub_id(config.source):
        raise TaskSourceError(f"{source}: no such folder (nor a Hub dataset id 'org/name')")


def _check_jsonl(path: Path, domains: list[str] | None) -> None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise TaskSourceError(f"{path}: cannot read: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise TaskSourceError(f"{path}: not UTF-8 text (byte {error.start})") from error
    found: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                found.add(ToolScaleTask.model_validate_json(line).domain)
            except pydantic.ValidationError as error:
                detail = error.errors()[0]
                where = ".".join(str(part) for part in detail["loc"]) or "(line)"
                raise TaskSourceError(f"{path}: line {number}: {where}: {detail['msg']}") from error
    missing = sorted(set(domains or ()) - found)
    if missing:
        raise TaskSourceError(f"{path}: no tasks of domain(s) {', '.join(missing)}; it has {', '.join(sorted(found)) or 'none'}")


def _check_output_folder(folder: Path, domains: list[str] | None, split: str) -> None:
    data = folder / "data"
    known = sorted(path.name for path in data.iterdir() if path.is_dir()) if data.is_dir() else []
    if not known:
        raise TaskSourceError(f"{folder}: no data/<domain>/ shards: not a pipeline output folder")
    unknown = sorted(set(domains or ()) - set(known))
    if unknown:
        raise TaskSourceError(f"{folder}: no domain(s) {', '.join(unknown)} in data/; it has {', '.join(known)}")
    for domain in domains or known:
        shards = sorted((data / domain).glob(f"{split}-*.parquet"))
        if not shards:
            raise TaskSourceError(f"{data / domain}: no {split!r} shards")
        for shard in shards:
            try:
                pq.read_metadata(shard)
            except (OSError, pa.ArrowException) as error:
                raise TaskSourceError(f"{shard}: not a readable Parquet file ({error})") from error
