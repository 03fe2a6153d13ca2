"""Experts and the LLM user behind an OpenAI-compatible endpoint (a local stand-in server)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from tests.stand_in_server import JsonHandler, serving
from tests.train_tasks import one_write_task
from toolscale.data.schema import task_to_row
from toolscale.domain.loader import load_domain
from toolscale.train.config import ExpertModel, ExpertsConfig, UserConfig
from toolscale.train.environment import environment_class, episode_of
from toolscale.train.experts import ExpertRouter


class _Handler(JsonHandler):
    requests: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches POST to
        body = self.read_json()
        self.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        reply = {
            "choices": [{"message": {"content": f"answer from {body['model']}"}}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 500},
        }
        self.reply_json(200, reply)


@pytest.fixture
def endpoint() -> Iterator[str]:
    _Handler.requests = []
    with serving(_Handler) as base_url:
        yield base_url


def test_a_served_expert_is_asked_and_billed_from_the_reported_usage(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPERT_KEY", "secret")
    task = one_write_task()
    alias, price = next(iter(task.pricing.experts.items()))
    experts = ExpertsConfig(models={price.model: ExpertModel(endpoint=endpoint, served_name="served", api_key_env="EXPERT_KEY")})
    env = environment_class(load_domain("bank"), ExpertRouter(experts), UserConfig())()
    env.reset(**task_to_row(task))
    assert env.call_expert(alias, "what next?") == "answer from served"
    (request,) = _Handler.requests
    assert (request["path"], request["auth"], request["model"]) == ("/v1/chat/completions", "Bearer secret", "served")
    assert request["messages"][-1] == {"role": "user", "content": "what next?"}
    record = episode_of(env).calls[0]
    assert (record.input_tokens, record.output_tokens) == (1000, 500)
    assert record.cost == pytest.approx((1000 * price.input_price_per_million + 500 * price.output_price_per_million) / 1e6)


def test_the_llm_user_answers_through_ask_user(endpoint: str) -> None:
    task = one_write_task()
    cls = environment_class(
        load_domain("bank"), ExpertRouter(ExpertsConfig()), UserConfig(mode="llm", endpoint=endpoint, model="user-sim")
    )
    env = cls()
    env.reset(**task_to_row(task))
    assert env.ask_user("What is your email?") == "answer from user-sim"  # type: ignore[attr-defined]
    (request,) = _Handler.requests
    assert task.user_scenario.instructions.reason_for_call in request["messages"][0]["content"]  # type: ignore[union-attr]
    assert episode_of(env).calls[0].kind == "user"
    assert "ask_user" not in vars(environment_class(load_domain("bank"), ExpertRouter(ExpertsConfig()), UserConfig()))


class _Refusing(JsonHandler):
    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches POST to
        self.read_json()
        self.reply_json(400, {"error": {"message": "no such model"}})  # not retried: the call fails at once


def test_an_expert_or_user_endpoint_that_cannot_answer_is_a_failed_call_and_the_rollout_goes_on() -> None:
    task = one_write_task()
    alias, price = next(iter(task.pricing.experts.items()))
    with serving(_Refusing) as base_url:
        experts = ExpertsConfig(models={price.model: ExpertModel(endpoint=base_url)})
        user = UserConfig(mode="llm", endpoint=base_url, model="user-sim")
        env = environment_class(load_domain("bank"), ExpertRouter(experts), user)()
        env.reset(**task_to_row(task))
        expert_said = env.call_expert(alias, "what next?")
        user_said = env.ask_user("What is your email?")  # type: ignore[attr-defined]
    assert expert_said.startswith(f"Error: expert {alias!r} could not answer (transport: BadRequestError")
    assert user_said.startswith("Error: the user could not answer (transport: BadRequestError")
    expert_call, user_call = episode_of(env).calls
    assert (expert_call.kind, expert_call.ok, expert_call.cost, expert_call.error) == ("expert", False, 0.0, expert_said)
    assert (user_call.kind, user_call.ok, user_call.error) == ("user", False, user_said)
