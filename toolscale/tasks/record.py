"""ToolScale task records: τ²-bench's Task shape plus what synthesis and verification know.

The JSON Schema of `ToolScaleTask` is committed as `schemas/task.schema.json`. In Parquet, tool
arguments travel as JSON text (docs/design.md, decision 4); here they are plain JSON objects.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict

from toolscale.engine.environment import StateDiff
from toolscale.strict import StrictModel
from toolscale.tasks.checks import CheckName
from toolscale.tasks.preference import Preference, Pricing
from toolscale.tasks.upstream import (
    TaskRecord,
    Tau2Task,
)

Difficulty = Literal["easy", "medium", "hard"]
TaskKind = Literal["write", "information", "refusal", "conditional"]
# Not a verifier check: the export drops a kept task a reviewer flagged (toolscale/data/labels.py).
ReviewerFlagged = Literal["reviewer_flagged"]
REVIEWER_FLAGGED: ReviewerFlagged = "reviewer_flagged"


class DatabaseRef(StrictModel):
    """The populated database a task runs on: rebuild it with `toolscale populate` from these."""

    size: int
    seed: int
    state_hash: str


class Provenance(StrictModel):
    seed: int
    index: int
    backend: Literal["template"]
    toolscale_version: str
    spec_fingerprint: str


class ReasonRecord(StrictModel):
    check: CheckName | ReviewerFlagged
    detail: str
    action_index: int | None = None


class TraceRecord(StrictModel):
    name: str
    arguments: dict[str, Any]
    ok: bool
    output: Any
    error: str | None
    state_hash: str


class Verification(StrictModel):
    verdict: Literal["kept", "rejected"]
    reasons: list[ReasonRecord]
    expected_final_hash: str  # the state the gold actions reach, exactly (ids as they generated them)
    # The same state with ids generated during the episode named by content: what the outcome compares,
    # so any order of independent writes that writes the same rows passes (`toolscale.engine.outcome`).
    expected_outcome_hash: str
    expected_diff: StateDiff
    trace: list[TraceRecord] | None = None  # kept for rejected candidates, so reviewers see what happened


class ToolScaleTask(TaskRecord):
    # A record ToolScale wrote has no unknown field: one would be a typo or a format change.
    model_config = ConfigDict(extra="forbid")

    database: DatabaseRef
    difficulty: Difficulty
    kind: TaskKind  # write, information (only asks to be told), refusal (a forbidden ask beside allowed ones), conditional
    preference: Preference
    pricing: Pricing
    provenance: Provenance
    verification: Verification

    def to_upstream(self) -> dict[str, Any]:
        """Upstream's fields only, with no null: every field upstream lets be null defaults to null, so
        writing one would only repeat the default (and a Parquet row sets every field, null or not)."""
        data: dict[str, Any] = self.model_dump(mode="json", include=set(Tau2Task.model_fields), exclude_none=True)
        return data


def rejected_as(task: ToolScaleTask, check: CheckName | ReviewerFlagged, detail: str) -> ToolScaleTask:
    """A kept record rejected by a check made after verification (duplicates across units, near-duplicates,
    a reviewer's flag)."""
    reason = ReasonRecord(check=check, detail=detail)
    verification = task.verification.model_copy(update={"verdict": "rejected", "reasons": [reason]})
    return task.model_copy(update={"verification": verification})
