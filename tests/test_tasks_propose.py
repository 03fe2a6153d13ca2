"""LLM-proposed tasks: a proposal is a candidate like the grammar's, kept only if the strict verifier keeps
it; malformed ones are `proposal_invalid`; the grammar candidate's caller and prices stay with it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from tests.llm_fake import FakeClient
from tests.small_bank import bank, grammar
from toolscale.llm.types import ChatRequest
from toolscale.tasks.preference import SynthesisConfig
from toolscale.tasks.propose import is_proposed
from toolscale.tasks.run import LLMTasks, SynthesisResult, synthesize_domain
from toolscale.tasks.synthesize import SynthesizedTask, Synthesizer

INDICES = range(40)
SHARE = 0.25


@cache
def grammar_tasks() -> dict[str, SynthesizedTask]:
    """The grammar's candidates by what their caller knows (what the proposal prompt shows)."""
    tasks = Synthesizer(bank(), grammar(), SynthesisConfig()).synthesize(5, INDICES)
    return {task.scenario.known_info: task for task in tasks if task is not None}


def grammar_task(request: ChatRequest) -> SynthesizedTask:
    match = re.search(r"^What the caller knows about themselves: (.*)$", request.messages[-1]["content"], re.MULTILINE)
    assert match is not None
    return grammar_tasks()[match.group(1)]


def as_proposal(task: SynthesizedTask, **changes: Any) -> dict[str, Any]:
    proposal = {
        "reason_for_call": task.scenario.reason_for_call,
        "known_info": task.scenario.known_info,
        "task_instructions": "Confirm what you asked for.",
        "actions": [{"name": action.name, "arguments": json.dumps(dict(action.arguments))} for action in task.actions],
        "communicate_info": list(task.communicate_info),
    }
    return proposal | changes


def proposed(answer: Callable[[ChatRequest], Any]) -> tuple[SynthesisResult, FakeClient]:
    def answering(request: ChatRequest) -> Any:
        if request.stage == "rewrite":
            raise AssertionError("proposed tasks are not rewritten when rewrite is off")
        return answer(request)

    client = FakeClient(answering)
    llm = LLMTasks(client, "openai", "fake", rewrite=False, proposed_share=SHARE)
    return synthesize_domain(bank(), grammar(), SynthesisConfig(), seed=5, indices=INDICES, llm=llm), client


def of_proposals(result: SynthesisResult) -> list[Any]:
    return [record for record in [*result.kept, *result.rejected] if record.provenance.proposed]


def test_a_proposal_the_verifier_keeps_is_kept_with_the_candidates_caller_and_prices() -> None:
    result, client = proposed(lambda request: as_proposal(grammar_task(request)))
    records = of_proposals(result)
    assert len(records) == len(client.asked) == sum(is_proposed(index, SHARE) for index in INDICES)
    kept = [record for record in records if record.verification.verdict == "kept"]
    assert kept, [record.verification.reasons for record in records]
    for record in kept:
        task = grammar_tasks()[record.user_scenario.instructions.known_info]  # type: ignore[union-attr]
        assert record.provenance.backend == "openai:fake:proposed"
        assert record.pricing == task.pricing
        assert record.preference == task.preference
        assert [action.name for action in record.actions] == [action.name for action in task.actions]
        if task.preference.statement:
            assert record.user_scenario.instructions.task_instructions.endswith(task.preference.statement)  # type: ignore[union-attr]


def test_a_proposal_naming_no_tool_of_the_domain_is_invalid_and_records_no_action() -> None:
    result, _ = proposed(
        lambda request: as_proposal(grammar_task(request), actions=[{"name": "wire_money_abroad", "arguments": "{}"}])
    )
    records = of_proposals(result)
    assert records
    assert all(record.verification.reasons[0].check == "proposal_invalid" for record in records)
    assert all("wire_money_abroad" in record.verification.reasons[0].detail and not record.actions for record in records)
    assert result.funnel["proposal_invalid"] == len(records)


def test_a_proposal_goes_through_every_check_of_the_verifier() -> None:
    def broken(request: ChatRequest) -> dict[str, Any]:
        task = grammar_task(request)
        last = task.actions[-1]  # a write task's last write, an information task's last read
        # That action alone, without the reads that find its ids: ids the caller never said.
        return as_proposal(
            task, actions=[{"name": last.name, "arguments": json.dumps(dict(last.arguments))}], communicate_info=[]
        )

    result, _ = proposed(broken)
    reasons = {record.verification.reasons[0].check for record in of_proposals(result)}
    assert reasons
    assert reasons <= {"ungrounded_argument", "leaked_id", "action_failed", "no_state_change", "invalid_action"}
    assert "ungrounded_argument" in reasons


def test_the_share_of_proposed_candidates_holds_in_any_slice() -> None:
    for share in (0.1, 0.25, 0.5):
        assert sum(is_proposed(index, share) for index in range(1000)) == round(1000 * share)
        assert sum(is_proposed(index, share) for index in range(300, 400)) == round(100 * share)
    assert not any(is_proposed(index, 0.0) for index in range(100))


def test_a_proposal_whose_arguments_are_not_a_json_object_is_invalid() -> None:
    def garbled(request: ChatRequest) -> dict[str, Any]:
        task = grammar_task(request)
        proposal = as_proposal(task)
        proposal["actions"][0]["arguments"] = "client_id = me" if task.index % 2 else '["CL-000001"]'
        return proposal

    result, _ = proposed(garbled)
    details = [record.verification.reasons[0].detail for record in of_proposals(result)]
    assert details
    assert all(record.verification.reasons[0].check == "proposal_invalid" for record in of_proposals(result))
    assert {detail.split(": ", 1)[1].split(":")[0] for detail in details} <= {
        "arguments are not JSON",
        "arguments are not a JSON object",
    }
