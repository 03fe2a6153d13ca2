"""Trainer rollouts on CPU: the environment's share of rollout time, and rollouts per second.

Trains the tiny model for a few steps on eight synthesized bank tasks (every bank tool exposed) and
times TRL's rollout phase (generation, tool calls, reward) per step. Environment time is what our
environment spends per rollout: reset (a fork of the cached database) and every tool and expert call,
engine included; populating the database, once per process, is done before timing. Target: under 2%.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from toolscale.domain.loader import domain_dir, load_domain
from toolscale.populate.stage import populate
from toolscale.tasks.grammar import GRAMMAR_FILE, load_grammar
from toolscale.tasks.preference import SynthesisConfig
from toolscale.tasks.run import synthesize_domain
from toolscale.train.config import DataConfig, GRPOSettings, TrainConfig
from toolscale.train.environment import episode_of, task_database
from toolscale.train.trainer import build_trainer

STEPS = 12
TARGET_SHARE = 0.02


def main() -> None:
    spec = load_domain("bank")
    grammar = load_grammar(domain_dir("bank") / GRAMMAR_FILE, spec)
    tasks = synthesize_domain(populate(spec, 200, seed=0), grammar, SynthesisConfig(), seed=0, indices=range(8)).kept
    for task in tasks:
        task_database(spec, task)  # populate once, outside the timed rollouts
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "tasks.jsonl"
        source.write_text("".join(task.model_dump_json() + "\n" for task in tasks), encoding="utf-8")
        config = TrainConfig(
            data=DataConfig(source=str(source), limit=len(tasks), streaming=False),
            output_dir=Path(folder) / "run",
            grpo=GRPOSettings(learning_rate=3e-3, max_tool_calling_iterations=6, max_completion_length=512, max_steps=STEPS),
            use_cpu=True,
        )
        trainer = build_trainer(config)
        rollout_seconds: list[float] = []
        environment_seconds: list[float] = []
        rollouts = 0
        generate = trainer._generate_and_score_completions

        def timed(inputs: list[dict[str, Any]]) -> dict[str, Any]:
            nonlocal rollouts
            started = time.perf_counter()
            output = generate(inputs)
            rollout_seconds.append(time.perf_counter() - started)
            environment_seconds.append(sum(episode_of(environment).engine_seconds for environment in trainer.environments))
            rollouts += len(inputs)
            return output

        trainer._generate_and_score_completions = timed
        trainer.train()
    share = sum(environment_seconds) / sum(rollout_seconds)
    print(
        f"train: tiny model on CPU, bank (all {len(spec.tools)} tools), {STEPS} steps of {config.grpo.num_generations} rollouts"
    )
    print(
        f"  rollout phase     {statistics.fmean(rollout_seconds):6.2f} s/step, {rollouts / sum(rollout_seconds):5.2f} rollouts/s"
    )
    print(f"  environment time  {statistics.fmean(environment_seconds) * 1e3:6.2f} ms/step")
    print(f"  environment share {share:6.2%} of rollout time (target < {TARGET_SHARE:.0%})")


if __name__ == "__main__":
    main()
