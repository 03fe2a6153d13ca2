"""A synthesized task and its verdict made a record (`ToolScaleTask`): the one place synthesis meets the
record format, so reading a record needs neither the synthesizer nor the verifier."""

from __future__ import annotations

from toolscale.tasks.record import (
    DatabaseRef,
    Difficulty,
    Provenance,
    ReasonRecord,
    ToolScaleTask,
    TraceRecord,
    Verification,
)
from toolscale.tasks.synthesize import SynthesizedTask
from toolscale.tasks.upstream import Action, Description, EvaluationCriteria, StructuredUserInstructions, UserScenario
from toolscale.tasks.verify import Verdict


def difficulty(task: SynthesizedTask) -> Difficulty:
    """From the task's shape: writes, actions and distinct tools the agent must get right."""
    writes, actions = len(task.goals), len(task.actions)
    tools = len({action.name for action in task.actions})
    if writes >= 3 or actions >= 9 or task.conditional:
        return "hard"
    if writes == 2 or actions >= 6 or tools >= 5:
        return "medium"
    return "easy"


def task_record(
    task: SynthesizedTask, verdict: Verdict, *, domain: str, database: DatabaseRef, provenance: Provenance
) -> ToolScaleTask:
    task_id = f"{domain}-{provenance.seed}-{task.index:07d}"
    scenario = task.scenario
    # Set only when a task has them: upstream's export leaves unset fields out.
    persona: dict[str, str] = {"persona": scenario.persona} if scenario.persona else {}
    criteria = EvaluationCriteria(
        actions=[
            Action(action_id=f"{task_id}-{number}", name=action.name, arguments=dict(action.arguments))
            for number, action in enumerate(task.actions)
        ],
        communicate_info=list(task.communicate_info),
        reward_basis=["DB", "COMMUNICATE"] if task.communicate_info else ["DB"],
    )
    if task.nl_assertions:  # refusals, for judges that grade the agent's words
        criteria = criteria.model_copy(update={"nl_assertions": list(task.nl_assertions)})
    return ToolScaleTask(
        id=task_id,
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
