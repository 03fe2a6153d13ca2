"""The eval config: which tasks, which policies, how many trials (`toolscale eval CONFIG`; docs/eval.md lists the keys)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from toolscale.settings import load_settings
from toolscale.strict import StrictModel
from toolscale.train.config import DataConfig, ExpertsConfig, RewardConfig, UserConfig


class GoldPolicy(StrictModel):
    """Replays the task's gold actions, then tells everything the task asks to be told: must score 100%."""

    kind: Literal["gold"]


class NullPolicy(StrictModel):
    """Answers at once and calls nothing: must score 0% (every task asks for a write)."""

    kind: Literal["do-nothing"]


class RandomPolicy(StrictModel):
    """`calls` tool calls, each a random tool of the domain with random arguments of the right types, then a reply."""

    kind: Literal["random"]
    calls: int = Field(default=3, ge=0)
    seed: int = 0


class ExpensiveExpertPolicy(StrictModel):
    """Asks the task's most expensive expert before every step, makes the step it advises, and reports what it read."""

    kind: Literal["expensive-expert"]


class EndpointPolicy(StrictModel):
    """Any OpenAI-compatible server with tool calling (GPT-5, `vllm serve`, llama.cpp's server)."""

    kind: Literal["endpoint"]
    base_url: str = Field(description="The server's OpenAI base URL, e.g. http://127.0.0.1:8000/v1.")
    model: str = Field(description="The model name the server expects.")
    api_key_env: str | None = Field(default=None, description="Environment variable holding the API key; None: no key.")
    max_retries: int = Field(default=4, ge=0, description="Retries of a failed request (429, 5xx, timeouts), backing off.")
    timeout_s: float = Field(default=120.0, gt=0, description="Seconds one request may take.")
    max_tokens: int = Field(default=1024, ge=1, description="Completion tokens per turn.")
    temperature: float = Field(default=0.0, ge=0)
    concurrency: int = Field(default=4, ge=1, description="Tasks run at once (each its own conversation).")
    input_price_per_million: float = Field(default=0.0, ge=0, description="The policy's own input tokens, in $.")
    output_price_per_million: float | None = Field(
        default=None, ge=0, description="The policy's own output tokens, in $; None: reward.orchestrator_price_per_million."
    )


class LocalPolicy(StrictModel):
    """A transformers model or checkpoint (the trainer's `final/`), generating on this machine."""

    kind: Literal["transformers"]
    path: str = Field(description="A local model directory or Hub id for from_pretrained.")
    max_new_tokens: int = Field(default=256, ge=1, description="Tokens per turn.")
    temperature: float = Field(default=0.0, ge=0, description="0: greedy decoding.")
    seed: int = 0
    device: str = Field(default="cpu", description="torch device, e.g. cuda:0.")


PolicyConfig = Annotated[
    GoldPolicy | NullPolicy | RandomPolicy | ExpensiveExpertPolicy | EndpointPolicy | LocalPolicy, Field(discriminator="kind")
]


class EvalConfig(StrictModel):
    data: DataConfig = Field(description="The tasks: as the trainer reads them, by default the test split.")
    policies: dict[str, PolicyConfig] = Field(min_length=1, description="Policies by the name results carry.")
    trials: int = Field(default=1, ge=1, description="Rollouts per task and policy (k of pass^k; the reward's group).")
    max_turns: int = Field(default=30, ge=1, description="Tool-calling rounds per rollout, as in training.")
    user: UserConfig = UserConfig()
    experts: ExpertsConfig = ExpertsConfig()
    reward: RewardConfig = RewardConfig()


def load_eval_config(path: Path, overrides: Sequence[str] = ()) -> EvalConfig:
    """Raises SettingsError naming file, field and reason."""
    return load_settings(path, EvalConfig, overrides)
