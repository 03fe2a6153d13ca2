"""The scenario writer: a language model rewrites a kept task's scenario in a caller's voice, then the
rewrite is checked again before it replaces the grammar's.

The model answers with the four fields of the user instructions (`RewrittenScenario`, sent as the
request's JSON Schema). The rewrite is kept only if

- every value the gold actions use that the grammar's scenario stated, and every number it stated
  (amounts, thresholds), is still stated (`rewrite_lost_fact`);
- the verifier, run on the same gold actions with the rewritten text, still keeps the task: its
  grounding and mention checks (ungrounded_argument, ambiguous_target: `rewrite_lost_fact`), its leak
  check (`rewrite_leaked_id`) and its communicate check (weak_communicate: `rewrite_told_answer`).

An answer that never fitted the schema, a refusal or a transport failure is `rewrite_invalid`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pydantic
from pydantic import Field

from toolscale.llm.types import ChatReply, ChatRequest, LLMFailure
from toolscale.strict import StrictModel
from toolscale.tasks.checks import CheckName
from toolscale.tasks.communicate import found, normalized
from toolscale.tasks.llm_checks import LLMCheck
from toolscale.tasks.prompting import REWRITE_TEMPLATE, Persona, messages
from toolscale.tasks.record import ToolScaleTask, rejected_as
from toolscale.tasks.spoken import spoken
from toolscale.tasks.upstream import Action as UpstreamAction
from toolscale.tasks.upstream import StructuredUserInstructions
from toolscale.tasks.verify import Action, Candidate, Observed, Verifier, leaves

STAGE = "rewrite"
# What the verifier's verdict on a rewritten text means for the rewrite.
_VERDICTS: dict[CheckName, LLMCheck] = {
    "ungrounded_argument": "rewrite_lost_fact",
    "ambiguous_target": "rewrite_lost_fact",
    "leaked_id": "rewrite_leaked_id",
    "weak_communicate": "rewrite_told_answer",
}
# A number standing alone (commas removed first): not part of a phone number, an id or a word.
_NUMBER = re.compile(r"(?<![\w.\-])\d+(?:\.\d+)?(?![\w\-]|\.\d)")


class RewrittenScenario(StrictModel):
    reason_for_call: str = Field(min_length=1, description="Why the caller calls, in their own words.")
    known_info: str = Field(min_length=1, description="What the caller knows about themselves.")
    unknown_info: str = Field(min_length=1, description="What the caller does not know.")
    task_instructions: str = Field(min_length=1, description="How the caller behaves in the conversation.")

    @property
    def text(self) -> str:
        """What the simulated user may say, as the verifier reads it (as `Scenario.text`)."""
        return "\n".join((self.reason_for_call, self.known_info, self.task_instructions))


REWRITE_SCHEMA: dict[str, Any] = RewrittenScenario.model_json_schema()


def _instructions(task: ToolScaleTask) -> StructuredUserInstructions:
    instructions = task.user_scenario.instructions
    assert isinstance(instructions, StructuredUserInstructions)  # ToolScale writes structured ones only
    return instructions


def _gold(task: ToolScaleTask) -> list[UpstreamAction]:
    criteria = task.evaluation_criteria
    return list(criteria.actions or []) if criteria is not None else []


def _template_text(instructions: StructuredUserInstructions) -> str:
    return "\n".join((instructions.reason_for_call, instructions.known_info or "", instructions.task_instructions))


def required_facts(task: ToolScaleTask) -> list[str]:
    """Values the rewrite must keep: gold action arguments the grammar's scenario states (in the form it
    states them), then every number it states, each once, in order of appearance."""
    text = normalized(_template_text(_instructions(task)))
    facts: list[str] = []
    for action in _gold(task):
        for leaf in leaves(list(action.arguments.values())):
            if isinstance(leaf, bool):
                continue
            for form in (str(leaf), spoken(leaf)):
                if form not in facts and found(form, text):
                    facts.append(form)
                    break
    facts += [number for number in dict.fromkeys(_NUMBER.findall(text)) if number not in facts]
    return facts


def rewrite_request(task: ToolScaleTask, persona: Persona, seed: int) -> ChatRequest:
    instructions = _instructions(task)
    scenario = {
        "reason_for_call": instructions.reason_for_call,
        "known_info": instructions.known_info or "",
        "unknown_info": instructions.unknown_info or "",
        "task_instructions": instructions.task_instructions,
    }
    context = {"domain": task.domain, "persona": persona.voice, "scenario": scenario, "facts": required_facts(task)}
    return ChatRequest(
        stage=STAGE,
        messages=messages(REWRITE_TEMPLATE, context),
        json_schema=REWRITE_SCHEMA,
        schema_name="rewritten_scenario",
        seed=seed,
    )


def rewritten_task(
    task: ToolScaleTask,
    answer: ChatReply | LLMFailure,
    *,
    persona: Persona,
    backend: str,
    verifier: Verifier,
    observed: Observed | None,
) -> ToolScaleTask:
    """The kept `task` with the rewritten scenario, or `task` rejected with the rewrite's reason."""
    if isinstance(answer, LLMFailure):
        return rejected_as(task, "rewrite_invalid", f"{answer.reason} after {answer.attempts} attempt(s): {answer.detail}")
    try:
        rewrite = RewrittenScenario.model_validate(answer.parsed)
    except pydantic.ValidationError as error:
        return rejected_as(task, "rewrite_invalid", f"the answer does not fit the schema: {error.errors()[0]['msg']}")
    lost = [fact for fact in required_facts(task) if not found(fact, normalized(rewrite.text))]
    if lost:
        return rejected_as(task, "rewrite_lost_fact", f"the rewrite no longer states {', '.join(map(repr, lost))}")
    reason = _verdict(task, rewrite, verifier, observed)
    if reason is not None:
        return rejected_as(task, *reason)
    instructions = _instructions(task).model_copy(
        update={
            "reason_for_call": rewrite.reason_for_call,
            "known_info": rewrite.known_info,
            "unknown_info": rewrite.unknown_info,
            "task_instructions": rewrite.task_instructions,
        }
    )
    scenario = task.user_scenario.model_copy(update={"persona": f"You are {persona.voice}.", "instructions": instructions})
    provenance = task.provenance.model_copy(update={"backend": backend})
    return task.model_copy(update={"user_scenario": scenario, "provenance": provenance})


def _verdict(
    task: ToolScaleTask, rewrite: RewrittenScenario, verifier: Verifier, observed: Observed | None
) -> tuple[LLMCheck, str] | None:
    actions: Sequence[Action] = [Action(action.name, action.arguments) for action in _gold(task)]
    told = tuple(task.evaluation_criteria.communicate_info or ()) if task.evaluation_criteria else ()
    verdict = verifier.verify(Candidate(actions, rewrite.text, told, observed))
    if verdict.kept:
        return None
    first = verdict.reasons[0]
    # Only the text changed, so only text checks can fail; any other is named in the detail all the same.
    return _VERDICTS.get(first.check, "rewrite_lost_fact"), f"{first.check}: {first.detail}"
