"""The per-rollout environment: tool methods TRL can read, episodes on forks, recorded calls, priced experts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from transformers.utils import get_json_schema

from tests.train_tasks import one_write_task, task_with_info
from toolscale.data.schema import task_to_row
from toolscale.domain.loader import load_domain
from toolscale.tasks.preference import ModelPrice, Pricing
from toolscale.tasks.record import ToolScaleTask
from toolscale.train.config import ExpertModel, ExpertsConfig, UserConfig
from toolscale.train.environment import (
    TaskDatabaseError,
    ToolScaleEnvironment,
    environment_class,
    episode_of,
    task_database,
)
from toolscale.train.experts import ExpertRouter
from toolscale.train.reward import outcome, rollout

BANK = load_domain("bank")


def environment(experts: ExpertsConfig | None = None) -> ToolScaleEnvironment:
    return environment_class(BANK, ExpertRouter(experts or ExpertsConfig()), UserConfig())()


def started(task: ToolScaleTask, experts: ExpertsConfig | None = None) -> ToolScaleEnvironment:
    env = environment(experts)
    env.reset(**task_to_row(task), prompt=[{"role": "user", "content": "hi"}])  # TRL passes every column
    return env


def call(env: ToolScaleEnvironment, tool: str, arguments: dict[str, Any]) -> str:
    result: str = getattr(env, tool)(**arguments)
    return result


def test_every_tool_method_has_the_spec_schema_trl_derives() -> None:
    cls = environment_class(BANK, ExpertRouter(ExpertsConfig()), UserConfig())
    for tool in BANK.tools:
        schema = get_json_schema(getattr(cls, tool.name))["function"]
        assert schema["name"] == tool.name
        properties = schema["parameters"]["properties"]
        assert set(properties) == set(tool.parameters.properties)
        assert sorted(schema["parameters"].get("required", [])) == sorted(tool.parameters.required)
        for name, parameter in tool.parameters.properties.items():
            expected = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean"}.get(parameter.type)
            if expected is not None:
                assert properties[name]["type"] == expected
            if parameter.enum is not None:
                assert properties[name]["enum"] == parameter.enum
    expert = get_json_schema(cls.call_expert)["function"]
    assert expert["parameters"]["required"] == ["expert", "question"]


def test_a_tool_name_the_trainer_reserves_is_refused() -> None:
    clash = BANK.model_copy(update={"tools": [BANK.tools[0].model_copy(update={"name": "reset"})]})
    with pytest.raises(ValueError, match="reserved"):
        environment_class(clash, ExpertRouter(ExpertsConfig()), UserConfig())


def test_gold_actions_reach_the_expected_state_and_are_recorded() -> None:
    task = task_with_info()
    env = started(task)
    outputs = [call(env, action.name, action.arguments) for action in task.actions]
    episode = episode_of(env)
    assert episode.environment.state_hash() == task.verification.expected_final_hash
    assert episode.final_hash == task.verification.expected_outcome_hash
    assert episode.gold_done == len(task.actions)
    assert [record.name for record in episode.calls] == [action.name for action in task.actions]
    assert all(record.ok and record.seconds == task.pricing.tool_seconds_per_call for record in episode.calls)
    info = task.evaluation_criteria.communicate_info or []
    assert not outcome(task, episode.final_hash, ["I did it."])  # right state, but the user was not told
    assert outcome(task, episode.final_hash, [f"Done: {'; '.join(info)}"])
    assert any(info[0] in output for output in outputs)


def test_independent_writes_in_another_order_reach_the_expected_outcome() -> None:
    """Two payments, made by the agent in the other order than the gold: their ids swap, the outcome holds."""
    task = one_write_task()
    database = task_database(BANK, task)
    with database.fork() as probe:
        client, account, payee = probe.query(
            "SELECT p.client_id, a.account_id, p.payee_id FROM payees p JOIN accounts a ON a.client_id = p.client_id "
            "WHERE a.status = 'open' AND a.balance > 100 ORDER BY p.payee_id LIMIT 1"
        )[0]
    payments = [{"client_id": client, "account_id": account, "payee_id": payee, "amount": amount} for amount in (10, 20)]
    with database.fork() as gold:
        for arguments in payments:
            assert gold.call("pay_payee", arguments).ok
        expected = task.verification.model_copy(
            update={"expected_final_hash": gold.state_hash(), "expected_outcome_hash": gold.outcome_hash()}
        )
    paying = task.model_copy(
        update={
            "verification": expected,
            "evaluation_criteria": task.evaluation_criteria.model_copy(update={"communicate_info": []}),
        }
    )
    env = started(paying)
    for arguments in reversed(payments):
        assert not call(env, "pay_payee", arguments).startswith("Error")
    episode = episode_of(env)
    assert episode.environment.state_hash() != expected.expected_final_hash  # the transactions' ids swapped
    assert outcome(paying, episode.final_hash, [])


def test_a_bad_call_is_an_error_observation_and_counts_as_a_tool_error() -> None:
    env = started(one_write_task())
    assert call(env, "freeze_card", {"card_id": "CARD-NOPE", "client_id": "CL-NOPE"}).startswith("Error:")
    assert call(env, "get_client_details", {}).startswith("Error: Invalid arguments")  # a required argument missing
    result = rollout(episode_of(env), [], tokens=5, orchestrator_price_per_million=0.0)
    assert (result.tool_calls, result.tool_errors, result.correct) == (2, 2, False)


def test_reset_starts_each_episode_on_a_fresh_fork() -> None:
    task = one_write_task()
    env = started(task)
    for action in task.actions:
        call(env, action.name, action.arguments)
    env.reset(**task_to_row(task))
    episode = episode_of(env)
    assert episode.final_hash == task.database.state_hash
    assert episode.calls == []


def test_a_task_whose_database_does_not_rebuild_is_refused() -> None:
    task = one_write_task()
    wrong = task.model_copy(update={"database": task.database.model_copy(update={"state_hash": "0" * 64})})
    with pytest.raises(TaskDatabaseError, match="expects 000000000000"):
        started(wrong)


def priced(task: ToolScaleTask) -> ToolScaleTask:
    pricing = Pricing(
        experts={
            "expert-1": ModelPrice(
                model="oracle", input_price_per_million=1.0, output_price_per_million=2.0, seconds_per_call=3.0
            ),
            "expert-2": ModelPrice(
                model="dunce", input_price_per_million=0.1, output_price_per_million=0.1, seconds_per_call=0.5
            ),
        },
        tool_seconds_per_call=0.1,
    )
    return task.model_copy(update={"pricing": pricing})


EXPERTS = ExpertsConfig(models={"oracle": ExpertModel(quality=1.0), "dunce": ExpertModel(quality=0.0, seconds_per_call=9.0)})


def test_a_perfect_simulated_expert_advises_the_next_gold_step_at_the_task_price() -> None:
    task = priced(one_write_task())
    env = started(task, EXPERTS)
    first = task.actions[0]
    assert (
        call(env, "call_expert", {"expert": "expert-1", "question": "next?"})
        == f"Call {first.name} with {json.dumps(first.arguments, sort_keys=True)}."
    )
    call(env, first.name, first.arguments)
    second = task.actions[1]
    assert second.name in call(env, "call_expert", {"expert": "expert-1", "question": "next?"})
    record = episode_of(env).calls[0]
    assert (record.kind, record.name, record.seconds) == ("expert", "expert-1", 3.0)
    assert record.cost == pytest.approx((record.input_tokens * 1.0 + record.output_tokens * 2.0) / 1e6)


def test_a_useless_expert_gives_a_wrong_step_and_config_overrides_its_latency() -> None:
    task = priced(one_write_task())
    env = started(task, EXPERTS)
    answer = call(env, "call_expert", {"expert": "expert-2", "question": "next?"})
    assert not answer.startswith(f"Call {task.actions[0].name} ")
    assert answer == started(task, EXPERTS).call_expert("expert-2", "next?")  # deterministic
    assert episode_of(env).calls[0].seconds == 9.0
    assert call(env, "call_expert", {"expert": "expert-9", "question": "?"}).startswith("Error: unknown expert")
    result = rollout(episode_of(env), [], tokens=0, orchestrator_price_per_million=0.0)
    assert result.alias_calls == {"expert-1": 0, "expert-2": 1}
