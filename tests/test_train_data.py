"""Trainer rows: streamed from exported shards or read from kept.jsonl, each with its prompt and domain."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.train_tasks import bank_tasks
from toolscale.data.card import card_configs
from toolscale.data.export import domain_shards, write_files
from toolscale.train.config import DataConfig
from toolscale.train.data import task_from_row, training_rows


def test_rows_stream_from_shards_with_a_prompt_and_their_domain(tmp_path: Path) -> None:
    tasks = list(bank_tasks()[:5])
    write_files(tmp_path, domain_shards("bank", {"train": tasks}, shard_size=2))
    card = {"configs": card_configs({"bank": {"train": len(tasks)}}, 0, "test")}
    (tmp_path / "README.md").write_text(f"---\n{yaml.safe_dump(card)}---\n", encoding="utf-8")
    rows = list(training_rows(DataConfig(source=str(tmp_path), domains=["bank"], limit=3)))
    assert [task_from_row(row) for row in rows] == tasks[:3]
    for row, task in zip(rows, tasks, strict=False):
        assert row["environment"] == "bank"
        system, user = row["prompt"]
        assert system["role"] == "system"
        assert "Bank customer support policy" in system["content"]
        assert all(f"- {alias}: {price.model}," in system["content"] for alias, price in task.pricing.experts.items())
        assert user["content"].startswith(task.user_scenario.instructions.reason_for_call)  # type: ignore[union-attr]


def test_rows_read_from_kept_jsonl_filtered_by_domain(tmp_path: Path) -> None:
    tasks = list(bank_tasks()[:2])
    source = tmp_path / "kept.jsonl"
    source.write_text("".join(task.model_dump_json() + "\n" for task in tasks), encoding="utf-8")
    assert [task_from_row(row) for row in training_rows(DataConfig(source=str(source), streaming=False))] == tasks
    assert list(training_rows(DataConfig(source=str(source), domains=["weather"], streaming=False))) == []
