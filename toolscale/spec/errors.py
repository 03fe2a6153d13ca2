"""Spec problems that name the file, the place inside it and the reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from toolscale.errors import ToolScaleError


def format_location(parts: Sequence[str | int]) -> str:
    """('tools', 3, 'effects', 1) -> 'tools[3].effects[1]'."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


@dataclass(frozen=True)
class SpecIssue:
    file: Path
    location: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.location}: {self.reason}"


class SpecError(ToolScaleError):
    """A spec that failed validation; `issues` lists every problem found."""

    def __init__(self, issues: Sequence[SpecIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))
