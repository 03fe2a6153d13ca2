"""`toolscale train CONFIG` end to end on one task: metrics, plot and final model written; bad configs refused."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from tests.train_tasks import one_write_task
from toolscale.cli import app


def test_train_writes_metrics_plot_and_model(tmp_path: Path) -> None:
    source = tmp_path / "kept.jsonl"
    source.write_text(one_write_task().model_dump_json() + "\n", encoding="utf-8")
    config = {
        "data": {"source": str(source), "streaming": False},
        "output_dir": str(tmp_path / "run"),
        "model": {"tiny": {"hidden_size": 32, "layers": 1, "vocab_size": 1024}},
        "grpo": {
            "num_generations": 4,
            "per_device_train_batch_size": 4,
            "max_tool_calling_iterations": 2,
            "max_completion_length": 64,
            "max_steps": 5,
        },
        "use_cpu": True,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = CliRunner().invoke(app, ["train", str(path), "--max-steps", "2"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2]
    for key in (
        "reward",
        "reward/accuracy/mean",
        "reward/cost/std",
        "episode/tool_calls",
        "episode/tool_error_rate",
        "step_time_s",
    ):
        assert key in lines[0]
    assert (tmp_path / "run" / "metrics.png").read_bytes().startswith(b"\x89PNG")
    # The first step's group is logged in the eval's trajectory format, scored by the same reward.
    sampled = [json.loads(line) for line in (tmp_path / "run" / "trajectories.jsonl").read_text().splitlines()]
    assert [(line["source"], line["step"], line["trial"]) for line in sampled] == [("train", 1, trial) for trial in range(4)]
    assert all(line["messages"][0]["role"] == "system" and line["task_id"] == one_write_task().id for line in sampled)
    assert all(line["final_hash"] and isinstance(line["reward"]["total"], float) for line in sampled)
    assert (tmp_path / "run" / "final" / "config.json").exists()


def test_an_invalid_config_is_refused_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"data": {"source": "x.jsonl"}, "output_dir": "out", "grpo": {"num_generations": 3}}))
    result = CliRunner().invoke(app, ["train", str(path)])
    assert result.exit_code != 0
    assert "multiple of num_generations" in result.output
