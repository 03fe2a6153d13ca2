"""ToolScale task records: τ²-bench's Task shape plus what synthesis and verification know.

The JSON Schema of `ToolScaleTask` is committed as `schemas/task.schema.json`. In Parquet, tool
arguments travel as JSON text (docs/design.md, decision 4); here they are plain JSON objects.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from toolscale.engine.environment import StateDiff
from toolscale.strict import StrictModel
from toolscale.tasks.llm_checks import LLMCheck
from toolscale.tasks.preference import Preference, Pricing
from toolscale.tasks.synthesize import SynthesizedTask, TaskKind
from toolscale.tasks.upstream import (
    Action,
    Description,
    EvaluationCriteria,
    StructuredUserInstructions,
    TaskRecord,
    Tau2Task,
    UserScenario,
)
from toolscale.tasks.verify import CheckName, Verdict

Difficulty = Literal["easy", "medium", "hard"]
# Not a verifier check: the export drops a kept task a reviewer flagged (toolscale/data/labels.py).
ReviewerFlagged = Literal["reviewer_flagged"]
REVIEWER_FLAGGED: ReviewerFlagged = "reviewer_flagged"
# Who wrote a task: "template" (the grammar, offline), "<backend>:<model>" when a model rewrote the
# grammar's scenario, "<backend>:<model>:proposed" when a model proposed the whole task.
PROPOSED_SUFFIX = ":proposed"
TaskBackend = Annotated[str, Field(pattern=r"^(template|(openai|vllm):.+)$")]


def llm_backend(backend: str, model: str, *, proposed: bool = False) -> str:
    return f"{backend}:{model}" + (PROPOSED_SUFFIX if proposed else "")


class DatabaseRef(StrictModel):
    """The populated database a task runs on: rebuild it with `toolscale populate` from these."""

    size: int
    seed: int
    state_hash: str


class Provenance(StrictModel):
    seed: int
    index: int
    backend: TaskBackend
    toolscale_version: str
    spec_fingerprint: str

    @property
    def proposed(self) -> bool:
        return self.backend.endswith(PROPOSED_SUFFIX)


class ReasonRecord(StrictModel):
    check: CheckName | LLMCheck | ReviewerFlagged
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


def difficulty(task: SynthesizedTask) -> Difficulty:
    """From the task's shape: writes, actions and distinct tools the agent must get right."""
    writes, actions = len(task.goals), len(task.actions)
    tools = len({action.name for action in task.actions})
    if writes >= 3 or actions >= 9 or task.conditional:
        return "hard"
    if writes == 2 or actions >= 6 or tools >= 5:
        return "medium"
    return "easy"


def rejected_as(task: ToolScaleTask, check: CheckName | LLMCheck | ReviewerFlagged, detail: str) -> ToolScaleTask:
    """A kept record rejected by a check made after verification (duplicates across units, near-duplicates,
    a rewrite that failed its checks, a reviewer's flag)."""
    reason = ReasonRecord(check=check, detail=detail)
    verification = task.verification.model_copy(update={"verdict": "rejected", "reasons": [reason]})
    return task.model_copy(update={"verification": verification})


def task_id(domain: str, seed: int, index: int) -> str:
    return f"{domain}-{seed}-{index:07d}"


def task_record(
    task: SynthesizedTask, verdict: Verdict, *, domain: str, database: DatabaseRef, provenance: Provenance
) -> ToolScaleTask:
    identifier = task_id(domain, provenance.seed, task.index)
    scenario = task.scenario
    # Set only when a task has them: upstream's export leaves unset fields out.
    persona: dict[str, str] = {"persona": scenario.persona} if scenario.persona else {}
    criteria = EvaluationCriteria(
        actions=[
            Action(action_id=f"{identifier}-{number}", name=action.name, arguments=dict(action.arguments))
            for number, action in enumerate(task.actions)
        ],
        communicate_info=list(task.communicate_info),
        reward_basis=["DB", "COMMUNICATE"] if task.communicate_info else ["DB"],
    )
    if task.nl_assertions:  # refusals, for judges that grade the agent's words
        criteria = criteria.model_copy(update={"nl_assertions": list(task.nl_assertions)})
    return ToolScaleTask(
        id=identifier,
        domain=domain,
        description=Description(purpose=f"{domain}: " + ", then ".join(task.goals)),
        user_scenario=UserScenario(
            **persona,
            instructions=StructuredUserInstructions(
                domain=domain,
                reason_for_call=scenario.reason_for_call,
                known_info=scenario.known_info,
                unknown_info=scenario.unknown_info,
                task_instructions=scenario.task_instructions,
            ),
        ),
        initial_state=None,
        evaluation_criteria=criteria,
        database=database,
        difficulty=difficulty(task),
        kind=task.kind,
        preference=task.preference,
        pricing=task.pricing,
        provenance=provenance,
        verification=Verification(
            verdict="kept" if verdict.kept else "rejected",
            reasons=[ReasonRecord(check=r.check, detail=r.detail, action_index=r.action_index) for r in verdict.reasons],
            expected_final_hash=verdict.final_hash,
            expected_outcome_hash=verdict.outcome_hash,
            expected_diff=verdict.final_diff,
            trace=None
            if verdict.kept
            else [
                TraceRecord(
                    name=step.name,
                    arguments=dict(step.arguments),
                    ok=step.ok,
                    output=step.output,
                    error=step.error,
                    state_hash=step.state_hash,
                )
                for step in verdict.trace
            ],
        ),
    )
