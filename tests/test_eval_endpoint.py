"""The endpoint policy's faults, against a local stand-in server (a real one cannot fail on demand): 429, 5xx and
timeouts are retried; a request failing past its retries is that task's error and the run goes on; malformed tool
calls are tool errors. The real-server path is tests/test_eval_server.py."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.eval_output import write_output
from tests.stand_in_server import JsonHandler, serving
from toolscale.eval.config import EvalConfig
from toolscale.eval.runner import evaluate


def completion(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "stand-in",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
    }


MALFORMED_CALL = {
    "content": None,
    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "find_client_by_email", "arguments": '{"email": '}}],
}


class Script(JsonHandler):
    """Answers each request with the next step of `steps`: an HTTP status, "slow" (past the client's timeout), or a
    completion message. Once the steps are spent it always answers `after`."""

    steps: ClassVar[list[Any]] = []
    after: ClassVar[Any] = {"content": "I could not finish."}
    requests: ClassVar[list[dict[str, Any]]] = []
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches POST to
        body = self.read_json()
        with self.lock:
            self.requests.append(body)
            step = self.steps.pop(0) if self.steps else self.after
        if step == "slow":
            time.sleep(1.0)
            step = self.after
        if isinstance(step, int):
            error = {"error": {"message": f"status {step}", "type": "stand_in"}}
            self.reply_json(step, error, {"retry-after-ms": "10"})  # the client honours it: retries stay quick
        else:
            self.reply_json(200, completion(step))


@pytest.fixture
def server() -> Iterator[str]:
    Script.steps, Script.requests, Script.after = [], [], {"content": "I could not finish."}
    with serving(Script) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("output")
    write_output(root, test_per_domain=1)
    return root


def config(output: Path, base_url: str, **policy: Any) -> EvalConfig:
    endpoint = {"kind": "endpoint", "base_url": base_url, "model": "stand-in", "concurrency": 1, **policy}
    return EvalConfig.model_validate(
        {"data": {"source": str(output), "split": "test", "domains": ["bank"], "streaming": False}, "policies": {"m": endpoint}}
    )


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_429_and_5xx_are_retried_and_a_malformed_tool_call_is_a_tool_error(output: Path, server: str, tmp_path: Path) -> None:
    Script.steps = [429, 503, MALFORMED_CALL, {"content": "Done."}]
    run = evaluate(config(output, server), tmp_path)
    assert run.errors == 0
    assert len(Script.requests) == 4
    (result,) = lines(tmp_path / "results.jsonl")
    assert result["error"] is None
    assert (result["tool_calls"], result["tool_errors"]) == (1, 1)
    assert result["tokens"] == {"input": 200, "output": 20}  # two answered turns
    (trajectory,) = lines(tmp_path / "trajectories.jsonl")
    (step,) = trajectory["steps"]
    assert not step["ok"]
    assert "not valid JSON" in step["error"]
    assert trajectory["messages"][-2] == {"role": "tool", "tool_call_id": "c1", "content": f"Error: {step['error']}"}
    # The model was sent the tool schemas it may call, without transformers' "return" entry.
    tools = {tool["function"]["name"]: tool["function"] for tool in Script.requests[-1]["tools"]}
    assert "find_client_by_email" in tools
    assert "call_expert" in tools
    assert "return" not in tools["call_expert"]


def test_a_timeout_is_retried(output: Path, server: str, tmp_path: Path) -> None:
    Script.steps = ["slow"]
    Script.after = {"content": "Done."}
    run = evaluate(config(output, server, timeout_s=0.3), tmp_path)
    assert run.errors == 0
    assert len(Script.requests) == 2


def test_a_request_failing_past_its_retries_is_the_tasks_error_and_a_rerun_retries_only_it(
    output: Path, server: str, tmp_path: Path
) -> None:
    Script.after = 500
    first = evaluate(config(output, server, max_retries=1), tmp_path)
    assert first.errors == 1
    assert len(Script.requests) == 2  # the request and its one retry
    (failed,) = lines(tmp_path / "results.jsonl")
    assert "InternalServerError" in failed["error"]
    assert not failed["outcome"]
    assert json.loads((tmp_path / "summary.json").read_text())["m"]["all"]["errors"] == 1
    Script.after, Script.requests = {"content": "Done."}, []
    second = evaluate(config(output, server, max_retries=1), tmp_path)
    assert (second.units_run, second.errors, len(Script.requests)) == (1, 0, 1)
    (result,) = lines(tmp_path / "results.jsonl")
    assert result["error"] is None
