"""`toolscale eval` on a small pipeline output: the baselines bound the scale, results resume, the contract holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tests.eval_output import write_output
from toolscale.cli import app
from toolscale.eval.config import EvalConfig
from toolscale.eval.figures import pass_hat_k
from toolscale.eval.plots import pareto_front
from toolscale.eval.runner import evaluate

RESULT_KEYS = {
    "policy", "task_id", "domain", "split", "trial", "outcome", "reward", "cost", "latency",
    "tool_calls", "expert_calls", "tool_errors", "tokens", "error",
}  # fmt: skip
STEP_KEYS = {"index", "name", "arguments", "ok", "output", "error", "alias", "cost", "latency", "state_hash"}


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("output")
    write_output(root)
    return root


def config_file(directory: Path, output: Path, policies: dict[str, Any], **changes: Any) -> Path:
    path = directory / "eval.yaml"
    data = {"data": {"source": str(output), "split": "test", "streaming": False}, "policies": policies, **changes}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_gold_scores_everything_and_do_nothing_nothing_in_every_domain(output: Path, tmp_path: Path) -> None:
    baselines = yaml.safe_load((Path(__file__).parents[1] / "configs" / "eval" / "baselines.yaml").read_text())
    path = config_file(tmp_path, output, baselines["policies"])
    result = CliRunner().invoke(app, ["eval", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(summary) == {"gold", "null"}
    for domain in ("bank", "weather", "all"):
        assert summary["gold"][domain]["accuracy"] == 1.0
        assert summary["null"][domain]["accuracy"] == 0.0
        assert summary["gold"][domain]["tasks"] == (12 if domain == "all" else 6)
        assert summary["null"][domain]["tool_calls"] == 0
    results = lines(tmp_path / "out" / "results.jsonl")
    assert len(results) == 24
    assert all(set(line) >= RESULT_KEYS and line["split"] == "test" for line in results)
    trajectories = lines(tmp_path / "out" / "trajectories.jsonl")
    assert [(t["policy"], t["task_id"]) for t in trajectories] == [(r["policy"], r["task_id"]) for r in results]
    gold = trajectories[0]
    assert gold["source"] == "eval"
    assert all(set(step) == STEP_KEYS for step in gold["steps"])
    calls = [call for message in gold["messages"] if message["role"] == "assistant" for call in message.get("tool_calls", [])]
    answers = [message["tool_call_id"] for message in gold["messages"] if message["role"] == "tool"]
    assert [step["name"] for step in gold["steps"]] == [call["function"]["name"] for call in calls]
    assert answers == [call["id"] for call in calls]
    assert gold["steps"][-1]["state_hash"] == gold["final_hash"]
    assert "| gold | **all** | 12 | 100.0% |" in (tmp_path / "out" / "summary.md").read_text()
    for plot in ("pareto.png", "experts.png"):
        assert (tmp_path / "out" / plot).read_bytes().startswith(b"\x89PNG")


def test_a_rerun_runs_only_unfinished_tasks_and_ends_with_the_same_bytes(output: Path, tmp_path: Path) -> None:
    path = config_file(tmp_path, output, {"random": {"kind": "random", "calls": 4}, "gold": {"kind": "gold"}}, trials=2)
    config = EvalConfig.model_validate(yaml.safe_load(path.read_text()))
    first = evaluate(config, tmp_path / "first")
    assert (first.units_run, first.units_skipped) == (24, 0)
    again = evaluate(config, tmp_path / "first")
    assert (again.units_run, again.units_skipped) == (0, 24)
    # A run killed mid-write: the last result line cut short, its unit's trajectories present.
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    results = (tmp_path / "first" / "results.jsonl").read_text().splitlines(keepends=True)
    (resumed / "results.jsonl").write_text("".join(results[:9]) + results[9][:40])
    (resumed / "trajectories.jsonl").write_text((tmp_path / "first" / "trajectories.jsonl").read_text())
    finished = evaluate(config, resumed)
    assert finished.units_run == 24 - 4  # 9 whole lines: four whole units of two trials
    for name in ("results.jsonl", "trajectories.jsonl", "summary.json", "pareto.png"):
        assert (resumed / name).read_bytes() == (tmp_path / "first" / name).read_bytes(), name


def test_trials_give_pass_hat_k_and_the_priciest_expert_pays_for_its_accuracy(output: Path, tmp_path: Path) -> None:
    path = config_file(tmp_path, output, {"expensive": {"kind": "expensive-expert"}, "gold": {"kind": "gold"}}, trials=3)
    config = EvalConfig.model_validate(yaml.safe_load(path.read_text()))
    summary = evaluate(config, tmp_path / "out", ["expensive", "gold"]).summary
    expensive, gold = summary["expensive"]["all"], summary["gold"]["all"]
    assert set(expensive["pass^k"]) == {"1", "2", "3"}
    assert expensive["pass^k"]["3"] <= expensive["pass^k"]["1"] == expensive["accuracy"]
    assert expensive["cost"] > 0 == gold["cost"]
    assert expensive["expert_calls_total"] >= 1
    results = lines(tmp_path / "out" / "results.jsonl")
    # Only the priciest alias of each task is called.
    assert all(
        sum(1 for count in line["expert_calls"].values() if count) == 1 for line in results if line["policy"] == "expensive"
    )


def test_pass_hat_k_and_the_pareto_front() -> None:
    assert pass_hat_k([3, 1], trials=3, k=1) == pytest.approx((1 + 1 / 3) / 2)
    assert pass_hat_k([3, 2], trials=3, k=3) == pytest.approx(0.5)
    front = pareto_front({"cheap": (0.0, 0.2), "dear": (1.0, 0.9), "worse": (1.5, 0.5), "tie": (0.0, 0.2)})
    assert front == ["cheap", "tie", "dear"]


def test_bad_eval_input_is_one_line_naming_the_problem(output: Path, tmp_path: Path) -> None:
    path = config_file(tmp_path, output, {"gold": {"kind": "gold"}})
    runner = CliRunner()
    bad_set = runner.invoke(app, ["eval", str(path), "--out", str(tmp_path / "o"), "--set", "trials=0"])
    assert bad_set.exit_code == 1
    assert f"{path} (with --set trials=0): trials: Input should be greater than or equal to 1" in bad_set.output
    unknown = runner.invoke(app, ["eval", str(path), "--out", str(tmp_path / "o"), "--policy", "gpt-9"])
    assert unknown.exit_code == 1
    assert "unknown policy gpt-9; the config has gold" in unknown.output
    kind = runner.invoke(app, ["eval", str(path), "--out", str(tmp_path / "o"), "--set", "policies.gold.kind=oracle"])
    assert kind.exit_code == 1
    assert "policies.gold" in kind.output
    assert "Traceback" not in kind.output + unknown.output + bad_set.output
