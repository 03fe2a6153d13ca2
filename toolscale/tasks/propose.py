"""LLM-proposed tasks: given one caller's rows, as the domain's read tools return them, and the domain's
tools, a language model proposes a scenario and the gold actions (ToolScale's own way of making tasks).

Nothing a model proposes is trusted: the proposal becomes a candidate like any the grammar makes, and
the strict verifier keeps it or rejects it for the first check it fails. Only an answer that does not
fit the schema at all, or calls a tool the domain lacks, is rejected here (`proposal_invalid`). The
proposal keeps the grammar candidate's caller, expert prices and stated preference, so a proposed
task is priced like any other.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import pydantic
from pydantic import Field

from toolscale.engine.database import DomainDatabase
from toolscale.engine.tools import parameters_schema
from toolscale.llm.types import ChatReply, ChatRequest, LLMFailure
from toolscale.spec.models import Tool
from toolscale.strict import StrictModel
from toolscale.tasks.prompting import PROPOSE_TEMPLATE, Persona, messages
from toolscale.tasks.synthesize import Scenario, SynthesizedTask
from toolscale.tasks.verify import Action

STAGE = "propose"
MAX_ACTIONS = 12
MAX_OUTPUT_CHARACTERS = 600  # of one read's output in the prompt: a small model's context is short


class ProposedAction(StrictModel):
    name: str = Field(min_length=1, description="A tool of the domain.")
    # JSON text rather than an open object: a server that holds the answer to the schema with a grammar
    # (llama.cpp) samples a free-form object very slowly; the text is parsed and checked here.
    arguments: str = Field(min_length=2, description='The tool\'s arguments as a JSON object, e.g. {"client_id": "..."}.')


class Proposal(StrictModel):
    reason_for_call: str = Field(min_length=1, description="What the caller wants, in their own words.")
    known_info: str = Field(min_length=1, description="The facts the caller can give about themselves.")
    task_instructions: str = Field(min_length=1, description="How the caller behaves in the conversation.")
    actions: list[ProposedAction] = Field(min_length=1, max_length=MAX_ACTIONS, description="The gold tool calls, in order.")
    communicate_info: list[str] = Field(default=[], max_length=4, description="Values the agent must tell the caller.")


PROPOSAL_SCHEMA: dict[str, Any] = Proposal.model_json_schema()


def is_proposed(index: int, share: float) -> bool:
    """Whether candidate `index` is proposed by the model: `share` of all indices, evenly spread, so
    any slice of candidates (a unit) gets its share wherever it starts."""
    return int((index + 1) * share) > int(index * share)


def caller_reads(database: DomainDatabase, task: SynthesizedTask) -> list[dict[str, str]]:
    """The reads the grammar's candidate made for its caller, each with its output as JSON (shortened):
    the caller's rows as the agent would see them. Only those: a small model's context is short, and on
    two CPU cores a local server reads a prompt at tens of tokens a second."""
    outputs = task.observed.outputs if task.observed is not None else ()
    reads: list[dict[str, str]] = []
    seen: set[str] = set()
    for action, output in zip(task.actions, outputs, strict=False):
        if database.tools[action.name].writes:
            continue
        arguments = json.dumps(dict(action.arguments), sort_keys=True, ensure_ascii=False)
        if f"{action.name}{arguments}" in seen:
            continue
        seen.add(f"{action.name}{arguments}")
        shown = json.dumps(output, sort_keys=True, ensure_ascii=False)
        reads.append({"name": action.name, "arguments": arguments, "output": shown[:MAX_OUTPUT_CHARACTERS]})
    return reads


def _parameters(tool: Tool) -> str:
    """A tool's parameters in a line ("client_id (string, required), limit (integer)"): a small model's
    context is short, and the verifier checks the arguments against the full schema anyway."""
    schema = parameters_schema(tool)
    required = set(schema.get("required", ()))
    listed = [
        f"{name} ({spec.get('type', 'any')}{', required' if name in required else ''})"
        for name, spec in schema.get("properties", {}).items()
    ]
    return ", ".join(listed) or "none"


def proposal_request(database: DomainDatabase, task: SynthesizedTask, persona: Persona, seed: int) -> ChatRequest:
    tools = [
        {
            "name": tool.name,
            "kind": tool.spec.kind,
            "description": tool.spec.description.split(". ")[0].rstrip(".") + ".",  # its first sentence
            "parameters": _parameters(tool.spec),
        }
        for tool in database.tools.values()
    ]
    context = {
        "domain": database.spec.name,
        "persona": persona.voice,
        "known_info": task.scenario.known_info,
        "reads": caller_reads(database, task),
        "tools": tools,
    }
    return ChatRequest(
        stage=STAGE,
        messages=messages(PROPOSE_TEMPLATE, context),
        json_schema=PROPOSAL_SCHEMA,
        schema_name="proposed_task",
        seed=seed,
    )


def proposed_task(
    database: DomainDatabase, task: SynthesizedTask, answer: ChatReply | LLMFailure, persona: Persona
) -> SynthesizedTask | str:
    """The proposal as a candidate for the verifier, or why it is `proposal_invalid`."""
    if isinstance(answer, LLMFailure):
        return f"{answer.reason} after {answer.attempts} attempt(s): {answer.detail}"
    try:
        proposal = Proposal.model_validate(answer.parsed)
    except pydantic.ValidationError as error:
        return f"the answer does not fit the schema: {error.errors()[0]['msg']}"
    unknown = sorted({action.name for action in proposal.actions} - set(database.tools))
    if unknown:
        return f"names no tool of the domain: {', '.join(unknown)}"
    arguments: list[dict[str, Any]] = []
    for number, action in enumerate(proposal.actions):
        try:
            parsed = json.loads(action.arguments)
        except json.JSONDecodeError as error:
            return f"action {number} ({action.name}): arguments are not JSON: {error}"
        if not isinstance(parsed, dict):
            return f"action {number} ({action.name}): arguments are not a JSON object"
        arguments.append(parsed)
    actions: Sequence[Action] = tuple(
        Action(action.name, parsed) for action, parsed in zip(proposal.actions, arguments, strict=True)
    )
    writes = tuple(action.name for action in actions if database.tools[action.name].writes)
    statement = task.preference.statement
    scenario = Scenario(
        reason_for_call=proposal.reason_for_call,
        known_info=proposal.known_info,
        unknown_info=task.scenario.unknown_info,
        # The grammar candidate's prices stay with the task, and so does the preference stated about them.
        task_instructions=f"{proposal.task_instructions} {statement}" if statement else proposal.task_instructions,
        persona=f"You are {persona.voice}.",
    )
    # An information task's goals are the reads it asks about, as the grammar's are.
    goals = writes or tuple(dict.fromkeys(action.name for action in actions))
    return dataclasses.replace(
        task,
        goals=goals,
        actions=tuple(actions),
        scenario=scenario,
        communicate_info=tuple(proposal.communicate_info),
        observed=None,
        conditional=False,
        kind="write" if writes else "information",
        nl_assertions=(),
        forbidden=(),
    )
