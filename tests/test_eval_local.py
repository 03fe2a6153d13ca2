"""The transformers policy on a checkpoint like the trainer's (the tiny model, saved): it acts through the tools,
its turns are parsed as training parses them, and seeded sampling makes a rerun of a task draw the same turns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.train_tasks import bank_tasks
from toolscale.domain.loader import load_domain
from toolscale.eval.config import EvalConfig
from toolscale.eval.runner import evaluate
from toolscale.train.config import ExpertsConfig, TinyModelConfig, UserConfig
from toolscale.train.environment import environment_classes
from toolscale.train.experts import ExpertRouter
from toolscale.train.tiny import action_texts, rendered_prompts, tiny_model, tiny_tokenizer


def steps(path: Path) -> list[Any]:
    return [[(s["name"], s["arguments"], s["ok"]) for s in json.loads(line)["steps"]] for line in path.read_text().splitlines()]


def test_a_saved_checkpoint_acts_through_the_tools_and_its_sampling_is_seeded(tmp_path: Path) -> None:
    tasks = list(bank_tasks()[:2])
    source = tmp_path / "kept.jsonl"
    source.write_text("".join(task.model_dump_json() + "\n" for task in tasks), encoding="utf-8")
    environments = environment_classes({"bank": load_domain("bank")}, ExpertRouter(ExpertsConfig()), UserConfig())
    actions = action_texts(tasks)
    tokenizer = tiny_tokenizer(rendered_prompts(tasks, environments), actions, 1024)
    checkpoint = tmp_path / "checkpoint"
    tiny_model(
        tokenizer, actions, TinyModelConfig(hidden_size=32, layers=1, heads=2, action_share=0.9, end_share=0.05)
    ).save_pretrained(checkpoint)
    tokenizer.save_pretrained(checkpoint)
    policy = {"kind": "transformers", "path": str(checkpoint), "temperature": 1.0, "max_new_tokens": 8}
    config = EvalConfig.model_validate(
        {"data": {"source": str(source), "streaming": False}, "policies": {"tiny": policy}, "trials": 2, "max_turns": 3}
    )
    first = evaluate(config, tmp_path / "first")
    assert (first.units_run, first.errors) == (2, 0)
    results = [json.loads(line) for line in (tmp_path / "first" / "results.jsonl").read_text().splitlines()]
    assert all(result["tokens"]["input"] > 0 and result["tokens"]["output"] > 0 for result in results)
    assert sum(result["tool_calls"] + sum(result["expert_calls"].values()) for result in results) > 0  # it called tools
    evaluate(config, tmp_path / "second")
    assert steps(tmp_path / "first" / "trajectories.jsonl") == steps(tmp_path / "second" / "trajectories.jsonl")
