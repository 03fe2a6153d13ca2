"""The trainer's run config: one YAML file, validated by these models (`toolscale train CONFIG`).

Defaults follow ToolOrchestra where it states them: group size 8, learning rate 1e-6, KL coefficient
1e-4, clip ratios 0.2 (low) / 0.28 (high), at most 30 turns. Every field is documented in
docs/training.md; `TrainConfig.model_json_schema()` is the authoritative list.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from toolscale.settings import load_settings
from toolscale.strict import StrictModel


class TinyModelConfig(StrictModel):
    """A randomly initialized model whose tokenizer is trained on the tasks' text (CPU smoke runs, tests)."""

    hidden_size: int = Field(default=64, ge=8)
    layers: int = Field(default=2, ge=1)
    heads: int = Field(default=4, ge=1)
    vocab_size: int = Field(default=4096, ge=300, description="Byte-level BPE vocabulary learned from the rendered prompts.")
    max_positions: int = Field(default=16384, ge=512, description="Context length; prompts hold the policy and tool schemas.")
    action_share: float = Field(
        default=0.5, gt=0, lt=1, description="Initial probability of the whole-action tokens together (toolscale.train.tiny)."
    )
    end_share: float = Field(default=0.4, gt=0, lt=1, description="Initial probability of ending the turn.")
    seed: int = 0

    @model_validator(mode="after")
    def _some_text(self) -> TinyModelConfig:
        if self.action_share + self.end_share >= 1:
            raise ValueError("action_share + end_share must leave some probability for text tokens")
        return self


class ModelConfig(StrictModel):
    name_or_path: str = Field(
        default="tiny",
        description="'tiny' builds TinyModelConfig's model on the fly; anything else is a Hub id or local path for "
        "transformers' from_pretrained (its chat template must render tool calls).",
    )
    tiny: TinyModelConfig = TinyModelConfig()
    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto", description="'auto': bfloat16 on a GPU that supports it, float32 on CPU."
    )


class DataConfig(StrictModel):
    source: str = Field(
        description="Where the tasks are: a pipeline output directory (Parquet shards and card), a Hub dataset repo id "
        "('org/name'), or a kept.jsonl file of task records from `toolscale synth`."
    )
    domains: list[str] | None = Field(default=None, description="Domains to train on; None: every domain of the source.")
    split: str = "train"
    streaming: bool = Field(default=True, description="Read rows as they are needed instead of downloading them first.")
    limit: int | None = Field(default=None, ge=1, description="Use only the first N tasks (smoke runs, tests).")


# `grpo:` fields are GRPOConfig's own, under TRL's names, except these, which TRL does not have.
TOOLSCALE_ONLY = frozenset({"advantage_clip"})


class GRPOSettings(StrictModel):
    """TRL's GRPOConfig fields the trainer sets from the config (TRL's names and meanings), plus TOOLSCALE_ONLY.
    `save_steps: null` means no checkpoints before the final model (TRL's save_strategy 'no')."""

    num_generations: int = Field(default=8, ge=2, description="Rollouts per task (G); the reward is normalized within them.")
    per_device_train_batch_size: int = Field(
        default=8, ge=1, description="Rollouts per device and optimizer micro-step; groups may span devices."
    )
    gradient_accumulation_steps: int = Field(default=1, ge=1)
    learning_rate: float = Field(default=1e-6, gt=0)
    beta: float = Field(default=1e-4, ge=0, description="KL coefficient against the reference model (0: no reference).")
    epsilon: float = Field(default=0.2, gt=0, description="PPO clip ratio below 1 (epsilon).")
    epsilon_high: float = Field(default=0.28, gt=0, description="PPO clip ratio above 1 (epsilon_high, DAPO's clip-higher).")
    advantage_clip: float = Field(default=3.0, gt=0, description="Group z-scored advantages are clipped to [-c, c].")
    max_tool_calling_iterations: int = Field(default=30, ge=1, description="Tool-calling rounds per rollout.")
    max_completion_length: int = Field(
        default=4096, ge=16, description="Tokens a rollout may add after its prompt, tool results included."
    )
    temperature: float = Field(default=1.0, gt=0)
    max_steps: int = Field(default=1000, ge=1, description="Optimizer steps (required: the task stream has no length).")
    warmup_steps: int = Field(default=0, ge=0)
    save_steps: int | None = Field(default=None, ge=1, description="Checkpoint every N steps; None: only the final model.")
    use_vllm: bool = Field(default=False, description="Generate with vLLM (GPU only; see docs/training.md).")
    vllm_mode: Literal["colocate", "server"] = "colocate"
    vllm_server_base_url: str | None = Field(default=None, description="For vllm_mode 'server': the `trl vllm-serve` URL.")
    vllm_gpu_memory_utilization: float = Field(default=0.3, gt=0, le=1)
    activation_checkpointing: bool = Field(
        default=False, description="Recompute activations in the backward pass to save memory."
    )


class RewardConfig(StrictModel):
    orchestrator_price_per_million: float = Field(
        default=0.2, ge=0, description="Price of the orchestrator's own tokens, added to each rollout's cost."
    )
    preference: dict[str, float] | None = Field(
        default=None,
        description="Fixed weights (accuracy, cost, latency, expert aliases) used instead of each task's preference, "
        "for ablations; None: the task's own preference vector.",
    )


class ExpertModel(StrictModel):
    """One concrete model an alias may stand for: simulated offline, or served behind an OpenAI-compatible endpoint."""

    quality: float = Field(default=0.7, ge=0, le=1, description="Simulated: the chance its advice is right.")
    endpoint: str | None = Field(default=None, description="OpenAI-compatible base URL (…/v1); None: simulated.")
    served_name: str | None = Field(default=None, description="The model name the endpoint expects; default: this key.")
    api_key_env: str | None = Field(default=None, description="Environment variable holding the endpoint's API key.")
    input_price_per_million: float | None = Field(default=None, ge=0, description="Overrides the task's drawn price.")
    output_price_per_million: float | None = Field(default=None, ge=0, description="Overrides the task's drawn price.")
    seconds_per_call: float | None = Field(default=None, ge=0, description="Overrides the task's drawn latency.")
    max_tokens: int = Field(default=512, ge=1, description="Endpoint: answer length limit.")


class ExpertsConfig(StrictModel):
    models: dict[str, ExpertModel] = Field(
        default={
            # Every model of catalog/models.yaml: the stronger a model, the likelier its advice is right.
            "gpt-5": ExpertModel(quality=0.95),
            "gpt-5-mini": ExpertModel(quality=0.8),
            "gpt-5-nano": ExpertModel(quality=0.6),
            "gpt-4.1": ExpertModel(quality=0.85),
            "gpt-4.1-mini": ExpertModel(quality=0.7),
            "claude-opus-4.1": ExpertModel(quality=0.95),
            "claude-sonnet-4.5": ExpertModel(quality=0.9),
            "claude-haiku-4.5": ExpertModel(quality=0.75),
            "gemini-2.5-pro": ExpertModel(quality=0.92),
            "gemini-2.5-flash": ExpertModel(quality=0.8),
            "gemini-2.5-flash-lite": ExpertModel(quality=0.6),
            "deepseek-r1": ExpertModel(quality=0.85),
            "deepseek-v3": ExpertModel(quality=0.8),
            "qwen3-32b": ExpertModel(quality=0.8),
            "llama-3.3-70b": ExpertModel(quality=0.75),
            "qwen2.5-math-72b": ExpertModel(quality=0.5),
            "qwen2.5-math-7b": ExpertModel(quality=0.4),
            "qwen2.5-coder-32b": ExpertModel(quality=0.5),
        },
        description="Concrete models by the name a task's pricing gives them; unlisted models are simulated at "
        "`default_quality`.",
    )
    default_quality: float = Field(default=0.7, ge=0, le=1)
    seed: int = Field(default=0, description="Seeds the simulated experts' deterministic draws.")


class UserConfig(StrictModel):
    mode: Literal["solo", "llm"] = Field(
        default="solo",
        description="'solo' (τ²'s solo mode): the prompt holds the whole request. 'llm': an `ask_user` tool answers "
        "from the user scenario through an OpenAI-compatible endpoint.",
    )
    endpoint: str | None = Field(default=None, description="The user model's OpenAI-compatible base URL (…/v1).")
    model: str | None = Field(default=None, description="The model name the endpoint expects.")
    api_key_env: str | None = Field(default=None, description="Environment variable holding the endpoint's API key.")
    max_tokens: int = Field(default=256, ge=1, le=131072, description="Length limit of one answer.")
    timeout_s: float = Field(default=120.0, gt=0, le=3600, description="Seconds one request may take.")

    @model_validator(mode="after")
    def _endpoint_for_llm(self) -> UserConfig:
        if self.mode == "llm" and (self.endpoint is None or self.model is None):
            raise ValueError("user mode 'llm' needs 'endpoint' and 'model'")
        return self


class TrajectorySampling(StrictModel):
    """Rollouts the trainer logs to output_dir/trajectories.jsonl, in `toolscale eval`'s trajectory format."""

    every_steps: int = Field(default=10, ge=0, description="Log rollouts of every Nth step (and the first); 0: none.")
    groups: int = Field(default=1, ge=1, description="Task groups logged per such step (each num_generations rollouts).")


class TrainConfig(StrictModel):
    data: DataConfig
    output_dir: Path = Field(description="Checkpoints, metrics.jsonl and metrics.png go here.")
    model: ModelConfig = ModelConfig()
    grpo: GRPOSettings = GRPOSettings()
    reward: RewardConfig = RewardConfig()
    experts: ExpertsConfig = ExpertsConfig()
    user: UserConfig = UserConfig()
    trajectories: TrajectorySampling = TrajectorySampling()
    seed: int = 0
    logging_steps: int = Field(default=1, ge=1)
    use_cpu: bool = Field(default=False, description="Train on the CPU even where a GPU is present.")

    @model_validator(mode="after")
    def _groups_fit(self) -> TrainConfig:
        rollouts = self.grpo.per_device_train_batch_size * self.grpo.gradient_accumulation_steps
        if rollouts % self.grpo.num_generations:
            raise ValueError(
                f"per_device_train_batch_size x gradient_accumulation_steps ({rollouts}) must be a multiple of num_generations "
                f"({self.grpo.num_generations})"
            )
        return self


def load_config(path: Path, overrides: Sequence[str] = ()) -> TrainConfig:
    """A config from YAML and `--set` overrides; relative paths in it are relative to the working directory, like
    the CLI's. Raises SettingsError naming file, field and reason."""
    return load_settings(path, TrainConfig, overrides)
