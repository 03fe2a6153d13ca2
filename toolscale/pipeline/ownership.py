"""Which files of an output folder the pipeline wrote, so it deletes only those and publishes nothing else.

The run manifest records every file a run writes (databases, units, shards, stats), and an export's
files are recorded before they are written, so a run killed midway still knows them. A folder that
holds files the pipeline did not write is refused, not cleaned.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from toolscale.errors import ToolScaleError
from toolscale.pipeline.manifest import MANIFEST_FILE, Manifest

# What an interrupted `write_atomically` leaves: ".<name>.<8 random characters>.tmp", for a name this
# pipeline writes (a manifest, card, stats, database or Parquet file).
_OUR_NAMES = r"manifest\.json|README\.md|stats\.json|funnel\.png|[A-Za-z0-9_.-]+\.(json|sqlite|parquet)"
_LEFTOVER = re.compile(rf"\.({_OUR_NAMES})\.[a-z0-9_]{{8}}\.tmp")
UNIT_FILE = re.compile(r"unit-\d{5}\.parquet")
# A model's cached answers (`toolscale.llm.cache`), at the top of the output folder: never published, kept
# across runs so a rerun or a resumed run asks nothing again.
LLM_CACHE_FILE = "llm-cache.sqlite"


class OutputFolderError(ToolScaleError, ValueError):
    """An output folder the pipeline may not write into; the message names it and says why."""


def check_output_folder(out: Path) -> None:
    """Refuse the current folder (or one above it), a file, and a folder of someone else's files."""
    resolved = out.resolve()
    here = Path.cwd().resolve()
    if resolved == here or resolved in here.parents:
        raise OutputFolderError(f"{out}: the output folder may not be the current folder or one above it; name one of its own")
    if resolved.exists() and not resolved.is_dir():
        raise OutputFolderError(f"{out}: the output folder is a file")
    # A model's reply cache alone may seed a new folder: its answers are then not asked again.
    others = [path for path in resolved.iterdir() if not path.name.startswith(LLM_CACHE_FILE)] if resolved.is_dir() else []
    if not (resolved / MANIFEST_FILE).is_file() and others:
        raise OutputFolderError(
            f"{out}: holds files but no {MANIFEST_FILE}, so not a pipeline output folder; choose an empty or new folder"
        )


def leftovers(out: Path, domains: list[str]) -> Iterator[Path]:
    """Temporary files of interrupted writes, in the folders the pipeline writes (and no deeper)."""
    folders = [out, out / "databases", out / "stats", out / "rejected"]
    folders += [out / part / domain for domain in domains for part in ("data", "work")]
    for folder in folders:
        if folder.is_dir():
            yield from (path for path in folder.iterdir() if path.is_file() and _LEFTOVER.fullmatch(path.name))


def recorded_files(manifest: Manifest) -> set[str]:
    """Every published file (relative path) the manifest says a run wrote or was writing."""
    files: set[str] = set()
    for state in manifest.domains.values():
        files.update(state.pending)
        if state.export is not None:
            files.update(state.export.files)
    return files


# Written by every run from the manifest alone (so a damaged one is simply written again), never recorded.
SUMMARY_FILES = frozenset({"README.md", "stats.json", "stats/funnel.png"})
# What `toolscale push` publishes from stats/ besides: a stray file of these kinds would go to the Hub.
PUBLISHED_STATS = (".json", ".png")


def strangers(out: Path, manifest: Manifest, domains: list[str]) -> list[str]:
    """Files in the published folders (data/<domain>/, rejected/, stats/) that no run recorded: a reader
    of the dataset would load them with it, or a push would publish them."""
    recorded = recorded_files(manifest) | SUMMARY_FILES
    folders = [out / "rejected", *(out / "data" / domain for domain in domains)]
    found = [path for folder in folders if folder.is_dir() for path in sorted(folder.iterdir()) if path.is_file()]
    if (out / "stats").is_dir():
        found += [path for path in sorted((out / "stats").iterdir()) if path.is_file() and path.suffix in PUBLISHED_STATS]
    return [relative for relative in (str(path.relative_to(out)) for path in found) if relative not in recorded]
