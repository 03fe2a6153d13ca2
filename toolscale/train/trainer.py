"""Wiring: the run config to `trl.GRPOTrainer` with ToolScale's environments and reward.

The same path serves a tiny model on a CPU and a real model on GPUs under accelerate (DeepSpeed,
FSDP) with vLLM generation: only the config differs (docs/training.md).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import torch
from accelerate.utils import gather_object  # type: ignore[import-untyped]
from trl.trainer.grpo_config import GRPOConfig
from trl.trainer.grpo_trainer import GRPOTrainer

from toolscale.domain.loader import domain_names, load_domain
from toolscale.spec.models import DomainSpec
from toolscale.train.config import TOOLSCALE_ONLY, TrainConfig
from toolscale.train.data import task_from_row, training_rows
from toolscale.train.environment import ToolScaleEnvironment, environment_classes
from toolscale.train.experts import ExpertRouter
from toolscale.train.metrics import METRICS_FILE, PLOT_FILE, JsonlMetrics, plot_metrics, read_metrics
from toolscale.train.reward import ToolScaleReward
from toolscale.train.samples import TRAJECTORIES_FILE, TrajectoryLog
from toolscale.train.tiny import action_texts, rendered_prompts, tiny_model, tiny_tokenizer

# environment_factory is marked experimental in TRL; it is the integration point docs/design.md chooses (decision 7).
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

TINY_INITIAL = "tiny-initial"  # where the freshly built tiny model and tokenizer are saved
VOCABULARY_TASKS = 64  # tasks read for the tiny model's vocabulary when data.limit does not bound them


class ToolScaleGRPOTrainer(GRPOTrainer):
    """GRPOTrainer with docs/design.md's advantage clipping (the group z-score, clipped to ±advantage_clip)."""

    def __init__(self, *args: Any, advantage_clip: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.advantage_clip = advantage_clip

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        # TRL computes the group z-score here and has no clipping option; the hook is the narrowest place to add it.
        output: dict[str, Any] = super()._generate_and_score_completions(inputs)
        output["advantages"] = output["advantages"].clamp(-self.advantage_clip, self.advantage_clip)
        return output


def _on_gpu(config: TrainConfig) -> bool:
    return torch.cuda.is_available() and not config.use_cpu


def _bf16(config: TrainConfig) -> bool:
    if config.model.dtype == "auto":
        return _on_gpu(config) and torch.cuda.is_bf16_supported()
    return config.model.dtype == "bfloat16"


def grpo_arguments(config: TrainConfig) -> GRPOConfig:
    """TRL's GRPOConfig: the `grpo:` section's fields pass through under their own (TRL's) names."""
    settings = config.grpo
    return GRPOConfig(
        **settings.model_dump(exclude={*TOOLSCALE_ONLY, "save_steps"}),
        output_dir=str(config.output_dir),
        save_strategy="steps" if settings.save_steps else "no",
        save_steps=settings.save_steps or 500,
        logging_steps=config.logging_steps,
        seed=config.seed,
        use_cpu=not _on_gpu(config),
        bf16=_bf16(config),
        remove_unused_columns=False,  # the task columns are what reset(**row) rebuilds the episode from
        report_to="none",
    )


def _specs(config: TrainConfig) -> dict[str, DomainSpec]:
    return {name: load_domain(name) for name in config.data.domains or domain_names()}


def _model_and_tokenizer(
    config: TrainConfig,
    rows: datasets.Dataset | datasets.IterableDataset,
    environments: Mapping[str, type[ToolScaleEnvironment]],
) -> tuple[str, Any]:
    """A model id or path TRL loads, and its tokenizer (None: TRL loads it from the same place).

    The tiny model is built from the training tasks and saved first: TRL loads the reference model for the KL
    term from the policy's path, so the policy must have one.
    """
    if config.model.name_or_path != "tiny":
        return config.model.name_or_path, None
    tasks = [task_from_row(row) for row in itertools.islice(rows, config.data.limit or VOCABULARY_TASKS)]
    actions = action_texts(tasks)
    prompts = rendered_prompts(tasks, environments, solo=config.user.mode == "solo")
    tokenizer = tiny_tokenizer(prompts, actions, config.model.tiny.vocab_size)
    path = config.output_dir / TINY_INITIAL
    tiny_model(tokenizer, actions, config.model.tiny).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path), tokenizer


@dataclass(frozen=True)
class TrainResult:
    metrics: list[dict[str, Any]]
    metrics_path: Path
    plot_path: Path


def build_trainer(config: TrainConfig, specs: Mapping[str, DomainSpec] | None = None) -> ToolScaleGRPOTrainer:
    """The trainer for a config; `specs` replaces the domains' specs (tests use reduced tool sets)."""
    specs = dict(specs) if specs is not None else _specs(config)
    rows = training_rows(config.data, solo=config.user.mode == "solo")
    environments = environment_classes(specs, ExpertRouter(config.experts), config.user)
    model, tokenizer = _model_and_tokenizer(config, rows, environments)
    arguments = grpo_arguments(config)
    arguments.model_init_kwargs = {"dtype": "bfloat16" if _bf16(config) else "float32"}
    reward = ToolScaleReward(
        group_size=config.grpo.num_generations,
        orchestrator_price_per_million=config.reward.orchestrator_price_per_million,
        weights=config.reward.preference,
    )
    trainer = ToolScaleGRPOTrainer(
        model=model,
        reward_funcs=[reward],
        args=arguments,
        train_dataset=rows,
        processing_class=tokenizer,
        environment_factory=dict(environments),  # by domain: each row's `environment` column picks its tools
        callbacks=[JsonlMetrics(config.output_dir / METRICS_FILE)],
        advantage_clip=config.grpo.advantage_clip,
    )
    if trainer.accelerator.num_processes > 1:
        reward.gather = gather_object
        reward.process_index = trainer.accelerator.process_index
    if trainer.accelerator.is_main_process:
        reward.on_scored = TrajectoryLog(
            config.output_dir / TRAJECTORIES_FILE,
            config.trajectories,
            config.grpo.num_generations,
            config.data.split,
            solo=config.user.mode == "solo",
            step=lambda: trainer.state.global_step + 1,  # rollouts are generated for the step about to be taken
        )
    return trainer


def train(config: TrainConfig, specs: Mapping[str, DomainSpec] | None = None) -> TrainResult:
    """Train, save the final model, and write metrics.jsonl and metrics.png into the output folder."""
    trainer = build_trainer(config, specs)
    trainer.train()
    trainer.save_model(str(config.output_dir / "final"))
    metrics_path, plot_path = config.output_dir / METRICS_FILE, config.output_dir / PLOT_FILE
    metrics = read_metrics(metrics_path) if trainer.is_world_process_zero() else []
    if trainer.is_world_process_zero():
        plot_metrics(metrics, plot_path)
    return TrainResult(metrics=metrics, metrics_path=metrics_path, plot_path=plot_path)
