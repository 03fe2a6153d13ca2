"""The openai backend against a scripted stand-in server: structured answers validated and repaired, every kind of
failure recorded with its reason, replies in request order, usage and cost per stage, and the cache."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.llm_stand_in import Scripted
from tests.stand_in_server import serving
from toolscale.errors import ToolScaleError
from toolscale.llm.config import LLMConfig
from toolscale.llm.factory import make_client
from toolscale.llm.types import ChatReply, ChatRequest, LLMClient, LLMFailure
from toolscale.llm.usage import Price

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
    "additionalProperties": False,
}


@pytest.fixture
def base_url() -> Iterator[str]:
    with serving(Scripted) as url:
        yield url


def config(base_url: str, **fields: Any) -> LLMConfig:
    return LLMConfig.model_validate({"backend": "openai", "model": "stand-in", "base_url": base_url, "max_retries": 1, **fields})


def ask(topic: str, stage: str = "rewrite", schema: dict[str, Any] | None = SCHEMA) -> ChatRequest:
    return ChatRequest(stage=stage, messages=({"role": "user", "content": topic},), json_schema=schema, schema_name="answer")


def complete(
    client_config: LLMConfig, requests: list[ChatRequest], **options: Any
) -> tuple[list[ChatReply | LLMFailure], LLMClient]:
    client = make_client(client_config, cache_path=options.get("cache_path"), price=options.get("price"))
    try:
        return client.complete(requests), client
    finally:
        client.close()


def test_a_structured_answer_is_sent_as_json_schema_and_parsed(base_url: str) -> None:
    Scripted.script({"a": ['{"ok": true}']})
    [reply], _ = complete(config(base_url), [ask("a")])
    assert isinstance(reply, ChatReply)
    assert reply.parsed == {"ok": True}
    assert (reply.input_tokens, reply.output_tokens, reply.attempts, reply.cached) == (100, 10, 1, False)
    sent = Scripted.seen[0].body
    assert sent["response_format"] == {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True}}
    assert sent["model"] == "stand-in"


def test_an_answer_off_its_schema_is_asked_again_with_the_error(base_url: str) -> None:
    Scripted.script({"a": ['{"ok": "yes"}', '{"ok": false}']})
    [reply], client = complete(config(base_url), [ask("a")])
    assert isinstance(reply, ChatReply)
    assert (reply.parsed, reply.attempts, reply.input_tokens) == ({"ok": False}, 2, 200)
    repair = Scripted.seen[1].body["messages"]
    assert repair[1] == {"role": "assistant", "content": '{"ok": "yes"}'}
    assert repair[2]["role"] == "user"
    assert "at ok: 'yes' is not of type 'boolean'" in repair[2]["content"]
    assert client.usage()["rewrite"].requests == 2


def test_an_answer_never_repaired_is_an_invalid_failure_with_its_attempts(base_url: str) -> None:
    Scripted.script({"a": ["not json"] * 5})
    [failure], client = complete(config(base_url, max_repairs=2), [ask("a")])
    assert isinstance(failure, LLMFailure)
    assert (failure.reason, failure.attempts) == ("invalid", 3)
    assert "not JSON" in failure.detail
    assert len(Scripted.seen) == 3
    assert client.usage()["rewrite"].failures == 1


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        ({"length": '{"ok": tr'}, "too_long"),
        ({"empty": True}, "refused"),
        ({"status": 400}, "transport"),
        ({"garbage": True}, "transport"),
    ],
)
def test_each_kind_of_unanswered_request_is_a_failure_with_its_reason(base_url: str, step: dict[str, Any], reason: str) -> None:
    Scripted.script({"a": [step], "b": ['{"ok": true}']})
    [failure, reply], client = complete(config(base_url), [ask("a"), ask("b")])
    assert isinstance(failure, LLMFailure)
    assert failure.reason == reason
    assert isinstance(reply, ChatReply)
    usage = client.usage()["rewrite"]
    assert (usage.requests, usage.failures, usage.cache_hits) == (2, 1, 0)  # a failure was asked all the same


def test_replies_come_back_in_request_order_whatever_order_they_finish_in(base_url: str) -> None:
    Scripted.script({"slow": [{"sleep": 0.3, "then": '{"ok": false}'}], "fast": ['{"ok": true}']})
    replies, _ = complete(config(base_url), [ask("slow"), ask("fast")])
    assert [reply.parsed for reply in replies if isinstance(reply, ChatReply)] == [{"ok": False}, {"ok": True}]
    finished = sorted(Scripted.seen, key=lambda seen: seen.answered or 0.0)
    assert [seen.topic for seen in finished] == ["fast", "slow"]


def test_text_and_tool_calls_come_back_for_a_request_without_schema(base_url: str) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "find_user", "arguments": '{"email": "a@b.c"}'}}
    Scripted.script({"a": [{"tools": [call]}], "b": ["Hello there."]})
    tools = ({"type": "function", "function": {"name": "find_user", "parameters": {"type": "object", "properties": {}}}},)
    with_tools = ChatRequest(stage="policy", messages=({"role": "user", "content": "a"},), tools=tools)
    [called, said], _ = complete(config(base_url), [with_tools, ask("b", schema=None)])
    assert isinstance(called, ChatReply)
    assert called.tool_calls == (call,)
    [sent_with_tools] = [seen.body for seen in Scripted.seen if seen.topic == "a"]
    assert sent_with_tools["tools"] == list(tools)
    assert isinstance(said, ChatReply)
    assert (said.text, said.parsed) == ("Hello there.", None)


def test_usage_counts_tokens_and_cost_per_stage(base_url: str) -> None:
    Scripted.script({})
    price = Price(input_per_million=2.0, output_per_million=10.0)
    _, client = complete(config(base_url), [ask("a", "rewrite"), ask("b", "rewrite"), ask("c", "propose")], price=price)
    usage = client.usage()
    assert usage["rewrite"].model_dump() == {
        "requests": 2,
        "cache_hits": 0,
        "failures": 0,
        "input_tokens": 200,
        "output_tokens": 20,
        "cost_usd": pytest.approx((200 * 2.0 + 20 * 10.0) / 1e6),
    }
    assert usage["propose"].requests == 1


def test_a_second_run_is_served_from_the_cache_at_no_cost(base_url: str, tmp_path: Path) -> None:
    Scripted.script({"a": [{"status": 400}]})
    price = Price(input_per_million=2.0, output_per_million=10.0)
    requests = [ask("a"), ask("b"), ask("c", schema=None)]
    first, _ = complete(config(base_url), requests, cache_path=tmp_path / "cache.sqlite", price=price)
    assert isinstance(first[0], LLMFailure)
    sent_first = len(Scripted.seen)
    second, client = complete(config(base_url), requests, cache_path=tmp_path / "cache.sqlite", price=price)
    # The failure is asked again (and now answered); the replies are not.
    assert [seen.topic for seen in Scripted.seen[sent_first:]] == ["a"]
    assert [isinstance(reply, ChatReply) and reply.cached for reply in second] == [False, True, True]
    assert [json.loads(reply.model_dump_json(exclude={"cached"})) for reply in second[1:]] == [
        json.loads(reply.model_dump_json(exclude={"cached"})) for reply in first[1:]
    ]
    assert client.usage()["rewrite"].cache_hits == 2
    assert client.usage()["rewrite"].cost_usd == pytest.approx((100 * 2.0 + 10 * 10.0) / 1e6)


def test_the_cache_key_holds_what_shapes_the_answer_but_not_the_stage(base_url: str, tmp_path: Path) -> None:
    Scripted.script({})
    cache = tmp_path / "cache.sqlite"
    complete(config(base_url), [ask("a", "rewrite")], cache_path=cache)
    [same], _ = complete(config(base_url), [ask("a", "propose")], cache_path=cache)
    [warmer], _ = complete(config(base_url, temperature=0.7), [ask("a")], cache_path=cache)
    [other_model], _ = complete(config(base_url, model="other"), [ask("a")], cache_path=cache)
    assert isinstance(same, ChatReply)
    assert same.cached
    assert [isinstance(reply, ChatReply) and reply.cached for reply in (warmer, other_model)] == [False, False]


def test_a_key_variable_that_is_not_set_is_named_in_one_clear_error(base_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOOLSCALE_TEST_KEY", raising=False)
    with pytest.raises(ToolScaleError, match=r"^llm.api_key_env: the environment variable TOOLSCALE_TEST_KEY is not set$"):
        make_client(config(base_url, api_key_env="TOOLSCALE_TEST_KEY"), cache_path=None)


def test_the_key_is_sent_from_the_variable_the_config_names(base_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    Scripted.script({})
    monkeypatch.setenv("TOOLSCALE_TEST_KEY", "sk-test-visible-only-in-the-header")
    seen_headers: list[str] = []
    original = Scripted.do_POST

    def recording(handler: Scripted) -> None:
        seen_headers.append(handler.headers["Authorization"])
        original(handler)

    monkeypatch.setattr(Scripted, "do_POST", recording)
    complete(config(base_url, api_key_env="TOOLSCALE_TEST_KEY"), [ask("a")])
    assert seen_headers == ["Bearer sk-test-visible-only-in-the-header"]


def test_template_has_no_client_and_vllm_without_its_module_says_how_to_get_it() -> None:
    with pytest.raises(ToolScaleError, match="'template' writes without a model"):
        make_client(LLMConfig(), cache_path=None)
    with pytest.raises(ToolScaleError, match="vllm backend needs `make vllm`"):
        make_client(LLMConfig(backend="vllm", model="m"), cache_path=None)


def test_complete_works_from_a_thread_and_from_inside_a_running_event_loop(base_url: str) -> None:
    Scripted.script({})
    client = make_client(config(base_url), cache_path=None)
    try:
        outcomes: list[Any] = []
        worker = threading.Thread(target=lambda: outcomes.extend(client.complete([ask("thread")])))
        worker.start()
        worker.join()

        async def caller_with_a_loop() -> list[ChatReply | LLMFailure]:
            return client.complete([ask("loop")])

        outcomes += asyncio.run(caller_with_a_loop())
    finally:
        client.close()
    assert [reply.parsed for reply in outcomes if isinstance(reply, ChatReply)] == [{"ok": True}, {"ok": True}]


def test_a_schema_goes_as_json_object_to_servers_that_take_that_form(base_url: str) -> None:
    Scripted.script({})
    complete(config(base_url, response_format="json_object"), [ask("a")])
    assert Scripted.seen[0].body["response_format"] == {"type": "json_object", "schema": SCHEMA}


def test_a_chat_turn_accepts_an_answer_cut_short_or_empty(base_url: str) -> None:
    Scripted.script({"cut": [{"length": "I will look up your ord"}], "empty": [{"empty": True}]})
    turns = [
        ChatRequest(stage="policy", messages=({"role": "user", "content": topic},), accept_partial=True)
        for topic in ("cut", "empty")
    ]
    cut, empty = complete(config(base_url), turns)[0]
    assert isinstance(cut, ChatReply)
    assert cut.text == "I will look up your ord"
    assert isinstance(empty, ChatReply)
    assert empty.text == ""


def test_a_request_larger_than_a_minutes_token_budget_is_still_sent(base_url: str) -> None:
    Scripted.script({})
    [reply], _ = complete(config(base_url, tokens_per_minute=10, requests_per_minute=5), [ask("a" * 400)])
    assert isinstance(reply, ChatReply)


def test_without_the_llm_extra_the_openai_backend_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "toolscale.llm.openai_backend", raising=False)
    monkeypatch.setitem(sys.modules, "openai", None)  # what an install without the extra looks like to an import
    with pytest.raises(ToolScaleError, match=r"the openai backend needs the llm extra, pip install 'toolscale\[llm\]'"):
        make_client(config("http://127.0.0.1:9/v1"), cache_path=None)
