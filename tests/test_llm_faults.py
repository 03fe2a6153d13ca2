"""Faults a real server cannot produce on demand, from the scripted stand-in: each is retried by the client (429 after
its Retry-After, 5xx, a timeout, a connection dropped mid-answer) or recorded; a batch with faults mixed in loses
nothing; a killed run resumes asking only what it lacks; the concurrency limit holds; the key is never written."""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.llm_stand_in import Scripted
from tests.stand_in_server import serving
from toolscale.llm.config import LLMConfig
from toolscale.llm.factory import make_client
from toolscale.llm.types import ChatReply, ChatRequest, LLMFailure

SCHEMA: dict[str, Any] = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


@pytest.fixture
def base_url() -> Iterator[str]:
    with serving(Scripted) as url:
        yield url


def config(base_url: str, **fields: Any) -> LLMConfig:
    return LLMConfig.model_validate({"backend": "openai", "model": "stand-in", "base_url": base_url, **fields})


def ask(topic: str) -> ChatRequest:
    return ChatRequest(stage="rewrite", messages=({"role": "user", "content": topic},), json_schema=SCHEMA)


def complete(
    client_config: LLMConfig, requests: list[ChatRequest], cache_path: Path | None = None
) -> list[ChatReply | LLMFailure]:
    client = make_client(client_config, cache_path=cache_path)
    try:
        return client.complete(requests)
    finally:
        client.close()


def answers(replies: list[ChatReply | LLMFailure]) -> list[str]:
    """What a caller keeps of each reply: everything but when and how it was obtained."""
    return [reply.model_dump_json(exclude={"cached", "seconds"}) for reply in replies]


def test_a_429_is_retried_after_the_wait_its_retry_after_asks(base_url: str) -> None:
    Scripted.script({"a": [{"status": 429, "headers": {"Retry-After": "2"}}]})
    [reply] = complete(config(base_url, max_retries=1), [ask("a")])
    assert isinstance(reply, ChatReply)
    refused, answered = Scripted.seen
    # The client's own backoff for a first retry is under a second; the wait came from the header.
    assert refused.answered is not None
    assert answered.arrived - refused.answered >= 2.0


@pytest.mark.parametrize(
    "fault",
    [{"status": 500}, {"status": 503}, {"drop": True}, {"sleep": 2.5, "then": '{"ok": false}'}],
    ids=["500", "503", "dropped", "timeout"],
)
def test_a_transient_fault_is_retried_and_answered(base_url: str, fault: dict[str, Any]) -> None:
    Scripted.script({"a": [fault]})
    [reply] = complete(config(base_url, max_retries=1, timeout_s=1.0), [ask("a")])
    assert isinstance(reply, ChatReply)
    assert reply.parsed == {"ok": True}
    assert [seen.topic for seen in Scripted.seen] == ["a", "a"]


def test_a_fault_that_outlasts_the_retries_is_a_transport_failure(base_url: str) -> None:
    Scripted.script({"a": [{"status": 503}] * 3})
    [failure] = complete(config(base_url, max_retries=2), [ask("a")])
    assert isinstance(failure, LLMFailure)
    assert failure.reason == "transport"
    assert "InternalServerError" in failure.detail
    assert len(Scripted.seen) == 3


MIXED_FAULTS: dict[str, list[Any]] = {
    "r429": [{"status": 429, "headers": {"Retry-After": "0"}}],
    "r500": [{"status": 500}],
    "r503": [{"status": 503}, {"status": 503}],
    "dropped": [{"drop": True}],
    "slow": [{"sleep": 1.0, "then": '{"ok": false}'}],
    "repaired": ['{"ok": 3}'],
}


def test_a_batch_with_faults_mixed_in_loses_nothing_and_a_rerun_is_all_cache_hits(base_url: str, tmp_path: Path) -> None:
    Scripted.script(MIXED_FAULTS)
    requests = [ask(topic) for topic in [*MIXED_FAULTS, "plain1", "plain2", "plain3"]]
    client_config = config(base_url, max_retries=3, timeout_s=0.5, concurrency=4)
    first = complete(client_config, requests, tmp_path / "cache.sqlite")
    assert [reply.parsed for reply in first if isinstance(reply, ChatReply)] == [{"ok": True}] * len(requests)
    sent = len(Scripted.seen)
    second = complete(client_config, requests, tmp_path / "cache.sqlite")
    assert len(Scripted.seen) == sent
    assert all(isinstance(reply, ChatReply) and reply.cached for reply in second)
    assert answers(second) == answers(first)


RESUMABLE_RUN = """
import sys
from pathlib import Path
from toolscale.llm.config import LLMConfig
from toolscale.llm.factory import make_client
from toolscale.llm.types import ChatRequest
config = LLMConfig(backend="openai", model="stand-in", base_url=sys.argv[1], concurrency=1)
client = make_client(config, cache_path=Path(sys.argv[2]))
topics = sys.argv[3:]
client.complete([ChatRequest(stage="rewrite", messages=({"role": "user", "content": t},)) for t in topics])
"""


def cached_rows(cache: Path) -> int:
    if not cache.exists():
        return 0
    with sqlite3.connect(cache) as connection:
        try:
            return int(connection.execute("SELECT count(*) FROM replies").fetchone()[0])
        except sqlite3.OperationalError:  # the table is not made yet
            return 0


def test_a_run_killed_mid_batch_resumes_asking_only_what_it_lacks(base_url: str, tmp_path: Path) -> None:
    topics = [f"t{index}" for index in range(8)]
    Scripted.script({}, after={"sleep": 0.3, "then": "answer"})
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(RESUMABLE_RUN), encoding="utf-8")
    cache = tmp_path / "cache.sqlite"
    run = subprocess.Popen([sys.executable, str(script), base_url, str(cache), *topics])
    deadline = time.monotonic() + 60
    while cached_rows(cache) < 3 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    kept = cached_rows(cache)
    assert 3 <= kept < len(topics)

    Scripted.script({}, after="answer")
    requests = [ChatRequest(stage="rewrite", messages=({"role": "user", "content": topic},)) for topic in topics]
    resumed = complete(config(base_url), requests, cache)
    asked_again = [seen.topic for seen in Scripted.seen]
    from_cache = [topic for topic, reply in zip(topics, resumed, strict=True) if isinstance(reply, ChatReply) and reply.cached]
    assert len(from_cache) == kept
    assert sorted(asked_again) == sorted(set(topics) - set(from_cache))
    Scripted.script({}, after="answer")
    assert answers(resumed) == answers(complete(config(base_url), requests))


def test_no_more_requests_are_in_flight_than_the_concurrency_allows(base_url: str) -> None:
    Scripted.script({}, after={"sleep": 0.5, "then": '{"ok": true}'})
    replies = complete(config(base_url, concurrency=3), [ask(f"t{index}") for index in range(10)])
    assert all(isinstance(reply, ChatReply) for reply in replies)
    assert Scripted.most_in_flight == 3


KEY = "sk-TOOLSCALE-distinctive-4f9c1e"


def test_the_key_never_appears_in_any_file_log_or_failure(
    base_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TOOLSCALE_DISTINCTIVE_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    Scripted.script({"unauthorised": [{"echo_key": True}], "r500": [{"status": 500}] * 5, "bad": ["no json"] * 5})
    client_config = config(base_url, api_key_env="TOOLSCALE_DISTINCTIVE_KEY", max_retries=1, max_repairs=1)
    replies = complete(client_config, [ask("unauthorised"), ask("r500"), ask("bad"), ask("fine")], tmp_path / "cache.sqlite")
    assert [type(reply).__name__ for reply in replies] == ["LLMFailure", "LLMFailure", "LLMFailure", "ChatReply"]
    written = [path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()]
    told = [reply.model_dump_json() for reply in replies] + [caplog.text, *capfd.readouterr()]
    assert caplog.text  # the client's debug log was captured, so the check below looked at something
    assert isinstance(replies[0], LLMFailure)
    assert "bad credentials: Bearer [key]" in replies[0].detail  # the server did quote it
    assert all(KEY.encode() not in data for data in written)
    assert all(KEY not in text for text in told)
    assert json.dumps(client_config.model_dump()).count(KEY) == 0


def test_the_requests_per_minute_limit_holds(base_url: str) -> None:
    Scripted.script({})
    replies = complete(config(base_url, requests_per_minute=120, concurrency=16), [ask(f"t{index}") for index in range(126)])
    assert all(isinstance(reply, ChatReply) for reply in replies)
    arrivals = sorted(seen.arrived for seen in Scripted.seen)
    span = arrivals[-1] - arrivals[0]
    # A minute's budget may go at once; after that, 2 a second. Unlimited, 126 requests take well under 3 s here.
    assert len(arrivals) <= 120 + 2 * span + 1
    assert span >= 2.0
