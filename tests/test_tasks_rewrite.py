"""The scenario writer: rewrites keep the task only when the verifier still keeps it on the new text, and
each way a rewrite fails has its own reason in the funnel."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from tests.llm_fake import FakeClient, template_fields
from tests.small_bank import bank, grammar
from toolscale.llm.types import ChatRequest, LLMFailure
from toolscale.tasks.llm_checks import LLM_CHECKS
from toolscale.tasks.preference import SynthesisConfig
from toolscale.tasks.prompting import persona_for, personas
from toolscale.tasks.rewrite import required_facts
from toolscale.tasks.run import FUNNEL_STAGES, LLM_FUNNEL_STAGES, LLMTasks, SynthesisResult, synthesize_domain
from toolscale.tasks.upstream import StructuredUserInstructions

INDICES = range(30)
INTERNAL_ID = re.compile(r"[A-Z]+-\d{6,}")  # the bank's row keys: ACC-0000191, CL-000122


@cache
def template() -> SynthesisResult:
    return synthesize_domain(bank(), grammar(), SynthesisConfig(), seed=5, indices=INDICES)


def written(answer: Callable[[ChatRequest], Any]) -> tuple[SynthesisResult, FakeClient]:
    client = FakeClient(answer)
    llm = LLMTasks(client, "openai", "fake", rewrite=True, proposed_share=0.0)
    return synthesize_domain(bank(), grammar(), SynthesisConfig(), seed=5, indices=INDICES, llm=llm), client


def in_a_voice(request: ChatRequest) -> dict[str, str]:
    fields = template_fields(request)
    return fields | {"reason_for_call": "Honestly, it has been a long week. " + fields["reason_for_call"]}


def instructions(record: Any) -> StructuredUserInstructions:
    value = record.user_scenario.instructions
    assert isinstance(value, StructuredUserInstructions)
    return value


def test_a_rewrite_that_keeps_every_fact_replaces_the_scenario_and_records_the_model() -> None:
    result, client = written(in_a_voice)
    assert [record.id for record in result.kept] == [record.id for record in template().kept]
    assert len(client.asked) == len(template().kept)  # one request per kept task, in one batch
    for record, before in zip(result.kept, template().kept, strict=True):
        assert (
            instructions(record).reason_for_call == "Honestly, it has been a long week. " + instructions(before).reason_for_call
        )
        assert record.provenance.backend == "openai:fake"
        assert record.user_scenario.persona == f"You are {persona_for(5, record.id).voice}."
        assert record.evaluation_criteria == before.evaluation_criteria
        assert record.verification == before.verification
    assert result.llm_usage == {
        "rewrite": {
            "requests": len(result.kept),
            "failures": 0,
            "input_tokens": 120 * len(result.kept),
            "output_tokens": 40 * len(result.kept),
        }
    }
    assert list(result.funnel) == list(LLM_FUNNEL_STAGES)
    assert LLM_FUNNEL_STAGES[len(FUNNEL_STAGES) - 2 : -2] == LLM_CHECKS  # after the verifier's checks, before review


def test_the_prompt_names_the_facts_to_keep_and_a_persona() -> None:
    _, client = written(in_a_voice)
    record = template().kept[0]
    prompt = client.asked[0].messages
    assert persona_for(5, record.id).voice in prompt[0]["content"]
    facts = required_facts(record)
    assert facts
    assert all(fact in prompt[1]["content"] for fact in facts)
    assert client.asked[0].json_schema is not None
    assert client.asked[0].json_schema["required"] == ["reason_for_call", "known_info", "unknown_info", "task_instructions"]


def test_a_rewrite_that_drops_a_needed_value_is_rejected_as_lost_fact() -> None:
    def drop_known(request: ChatRequest) -> dict[str, str]:
        return template_fields(request) | {"known_info": "You know who you are.", "reason_for_call": "You want help."}

    result, _ = written(drop_known)
    assert not result.kept
    assert result.funnel["rewrite_lost_fact"] == len(template().kept)
    assert all(
        record.verification.reasons[0].check == "rewrite_lost_fact"
        for record in result.rejected
        if record.id in {r.id for r in template().kept}
    )


def test_a_rewrite_that_shows_an_internal_id_is_rejected_as_leaked_id() -> None:
    targets = {}
    for record in template().kept:
        ids = [
            value
            for action in record.actions
            for value in action.arguments.values()
            if isinstance(value, str) and INTERNAL_ID.fullmatch(value)
        ]
        if ids:
            targets[instructions(record).known_info] = ids[0]

    def leak(request: ChatRequest) -> dict[str, str]:
        fields = template_fields(request)
        leaked = targets.get(fields["known_info"])
        return fields | {"reason_for_call": fields["reason_for_call"] + (f" Your reference is {leaked}." if leaked else "")}

    result, _ = written(leak)
    leaked = [record for record in result.rejected if record.verification.reasons[0].check == "rewrite_leaked_id"]
    assert targets
    assert len(leaked) == len(targets)
    assert all(targets[instructions(record).known_info] in record.verification.reasons[0].detail for record in leaked)


def test_a_rewrite_that_already_says_the_answer_is_rejected_as_told_answer() -> None:
    answers = {instructions(r).known_info: r.evaluation_criteria.communicate_info for r in template().kept}
    answers = {known: told for known, told in answers.items() if told}

    def tell(request: ChatRequest) -> dict[str, str]:
        fields = template_fields(request)
        told = answers.get(fields["known_info"])
        return fields | {"task_instructions": fields["task_instructions"] + (f" You think it is {told[0]}." if told else "")}

    result, _ = written(tell)
    assert answers
    assert result.funnel["rewrite_told_answer"] == len(answers)


def test_failures_and_answers_off_the_schema_are_rejected_as_invalid() -> None:
    def fail(request: ChatRequest) -> Any:
        if len(template_fields(request)["known_info"]) % 2:
            return LLMFailure(reason="invalid", detail="off the schema twice", attempts=3)
        return {"reason_for_call": "only one field"}

    result, _ = written(fail)
    assert not result.kept
    assert result.funnel["rewrite_invalid"] == len(template().kept)
    details = {
        record.verification.reasons[0].detail
        for record in result.rejected
        if record.verification.reasons[0].check == "rewrite_invalid"
    }
    assert any(detail.startswith("invalid after 3 attempt(s)") for detail in details)
    assert any("does not fit the schema" in detail for detail in details)
    assert result.llm_usage["rewrite"]["failures"] < len(template().kept)


def test_personas_are_drawn_per_task_from_the_seed_and_the_task_id() -> None:
    assert persona_for(5, "bank-5-0000001") == persona_for(5, "bank-5-0000001")
    drawn = {persona_for(5, f"bank-5-{index:07d}").name for index in range(200)}
    assert len(drawn) == len(personas())
    assert [persona_for(6, f"bank-6-{index:07d}") for index in range(20)] != [
        persona_for(5, f"bank-5-{index:07d}") for index in range(20)
    ]
