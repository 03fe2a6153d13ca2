"""Reviewer verdicts: an append-only JSONL file of labels, one `{task_id, verdict, note, at}` per line.

A task's verdict is its latest label, so a reviewer changes their mind by appending, never by
editing. `toolscale review apply` merges labels into `OUTPUT/review/labels.jsonl`; the pipeline's
next export reads the tasks flagged there and drops them as `reviewer_flagged`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import pydantic
from pydantic import BaseModel, ConfigDict

from toolscale.errors import ToolScaleError

LABELS_FILE = Path("review") / "labels.jsonl"  # inside an output directory
Verdict = Literal["approved", "flagged"]


class Label(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    task_id: str
    verdict: Verdict
    note: str = ""
    at: str = ""  # ISO 8601 time the reviewer gave it; order in the file decides, not this


class LabelError(ToolScaleError, ValueError):
    """A labels file that cannot be used; the message names the file, the line and the reason."""


def parse_labels(text: str, source: str) -> list[Label]:
    """Every label of a labels file's text; the first bad line raises `source:LINE: field: reason`."""
    labels = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            labels.append(Label.model_validate_json(line))
        except pydantic.ValidationError as error:
            problem = error.errors()[0]
            location = ".".join(str(part) for part in problem["loc"]) or "line"
            raise LabelError(f"{source}:{number}: {location}: {problem['msg']}") from error
    return labels


def read_labels(path: Path) -> list[Label]:
    """The labels of a file; a missing file has none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as error:
        raise LabelError(f"{path}: cannot read labels: {error}") from error
    return parse_labels(text, str(path))


def label_line(label: Label) -> str:
    return json.dumps(label.model_dump(), ensure_ascii=False, sort_keys=True) + "\n"


def latest_verdicts(labels: Iterable[Label]) -> dict[str, Label]:
    """Each labelled task's last label."""
    latest: dict[str, Label] = {}
    for label in labels:
        latest[label.task_id] = label
    return dict(sorted(latest.items()))


def flagged_notes(labels: Iterable[Label]) -> dict[str, str]:
    """Tasks whose latest label flags them, with the reviewer's note."""
    return {task: label.note for task, label in latest_verdicts(labels).items() if label.verdict == "flagged"}


def review_counts(labels: Sequence[Label]) -> dict[str, int]:
    latest = latest_verdicts(labels).values()
    return {
        "reviewed": len(latest),
        "approved": sum(label.verdict == "approved" for label in latest),
        "flagged": sum(label.verdict == "flagged" for label in latest),
    }


def flagged_digest(flagged: Mapping[str, str]) -> str:
    """What an export depends on of the labels: which of its tasks are flagged (and why)."""
    return hashlib.sha256(json.dumps(flagged, sort_keys=True).encode("utf-8")).hexdigest()
