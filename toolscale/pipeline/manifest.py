"""The run manifest: which units of which domain are finished, with the digest of every file written.

A unit counts as finished only when its file exists with the recorded digest, so a file torn by an
interruption, or edited by hand, is simply made again. The manifest itself is written atomically.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict

from toolscale.atomic import write_atomically
from toolscale.errors import ToolScaleError

MANIFEST_FILE = "manifest.json"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DomainExportEntry(_Entry):
    fingerprint: str
    files: dict[str, str]  # path relative to the output dir -> sha256
    counts: dict[str, int]  # kept tasks per split
    rejected: int
    stats: dict[str, Any]


class DomainState(_Entry):
    fingerprint: str  # of everything the units depend on; a change discards the domain's units
    database: str | None = None  # sha256 of the database file
    planned_units: int = 0
    units: dict[int, str] = {}  # unit number -> sha256 of its file
    export: DomainExportEntry | None = None
    # An export's files, recorded before they are written: a run killed while writing them knows they are its own.
    pending: list[str] = []


class Manifest(_Entry):
    format: int = 1
    domains: dict[str, DomainState] = {}


class ManifestError(ToolScaleError, ValueError):
    pass


def sha256_file(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def intact(path: Path, recorded: str | None) -> bool:
    """The file exists and has the digest the manifest recorded for it."""
    return recorded is not None and sha256_file(path) == recorded


def load_manifest(path: Path) -> Manifest:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Manifest()
    except OSError as error:
        raise ManifestError(f"{path}: cannot read the run manifest: {error.strerror}") from error
    except UnicodeDecodeError as error:
        reason = f"not a run manifest (byte {error.start} is not UTF-8)"
        raise ManifestError(f"{path}: {reason}; delete it (and the output it describes) to start afresh") from error
    try:
        return Manifest.model_validate_json(text)
    except pydantic.ValidationError as error:
        raise ManifestError(
            f"{path}: not a run manifest ({error.errors()[0]['msg']}); delete it (and the output it describes) to start afresh"
        ) from error


def save_manifest(path: Path, manifest: Manifest) -> None:
    write_atomically(path, manifest.model_dump_json(indent=1) + "\n")
