"""The trainer learns: on an easy task the mean reward of the last steps clearly beats the first.

The task is one bank write whose outcome needs no reply. The tiny policy's actions are that task's
gold calls, a call to each expert and a reply; under a preference that weighs cost and latency, the
best rollouts make the write and stop, while consulting an expert or making needless calls costs.
Fixed seeds make the run repeatable.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from tests.train_tasks import one_write_task
from toolscale.domain.loader import load_domain
from toolscale.train.config import DataConfig, GRPOSettings, ModelConfig, RewardConfig, TinyModelConfig, TrainConfig
from toolscale.train.trainer import train

WINDOW = 6


def test_the_policy_learns_to_act_cheaply(tmp_path: Path) -> None:
    task = one_write_task()
    source = tmp_path / "tasks.jsonl"
    source.write_text(task.model_dump_json() + "\n", encoding="utf-8")
    bank = load_domain("bank")
    needed = {action.name for action in task.actions}
    # Only the task's tools: a short prompt keeps each CPU step well under a second.
    spec = bank.model_copy(update={"tools": [tool for tool in bank.tools if tool.name in needed]})
    config = TrainConfig(
        data=DataConfig(source=str(source), limit=1, streaming=False),
        output_dir=tmp_path / "run",
        model=ModelConfig(tiny=TinyModelConfig(hidden_size=32, layers=1, heads=2, vocab_size=1024)),
        grpo=GRPOSettings(learning_rate=1e-2, beta=0.0, max_tool_calling_iterations=2, max_completion_length=64, max_steps=24),
        reward=RewardConfig(preference={"accuracy": 0.3, "cost": 0.5, "latency": 0.2}),
        seed=0,
    )
    metrics = train(config, specs={"bank": spec}).metrics
    assert len(metrics) == config.grpo.max_steps

    def window(key: str) -> tuple[float, float]:
        values = [record[key] for record in metrics]
        return statistics.fmean(values[:WINDOW]), statistics.fmean(values[-WINDOW:])

    (first, last), (experts_first, experts_last) = window("reward"), window("episode/expert_calls")
    print(f"mean reward: first {WINDOW} steps {first:.3f}, last {WINDOW} steps {last:.3f}")
    print(f"expert calls per episode: first {experts_first:.2f}, last {experts_last:.2f}")
    assert last > first + 0.2
    assert experts_last < experts_first  # it stopped paying for advice it does not need
