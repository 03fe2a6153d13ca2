"""Per-task preference vectors, model aliases and pricing (DESIGN.md, Reward).

Each task gets its own draw: which concrete models stand behind the aliases expert-1..N, what they
cost and how slow they are, and how much the user weighs accuracy, cost, latency and each alias.
Drawing them per task from configurable ranges makes a policy read them rather than memorize them.
"""

from __future__ import annotations

import random
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

Range = Annotated[tuple[float, float], Field(description="[low, high], drawn uniformly")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PricingConfig(_Strict):
    models: list[str] = Field(
        default=["gpt-5", "gpt-5-mini", "claude-opus-4", "qwen3-32b", "qwen2.5-math-72b", "llama-3.3-70b", "deepseek-r1"],
        min_length=1,
        description="Concrete models the expert aliases may stand for.",
    )
    experts: int = Field(default=3, ge=1, description="How many aliases (expert-1..N) a task offers.")
    input_price_per_million: Range = (0.05, 15.0)
    output_price_per_million: Range = (0.2, 60.0)
    seconds_per_call: Range = (0.5, 20.0)
    tool_seconds_per_call: Range = (0.01, 0.3)

    @model_validator(mode="after")
    def _enough_models(self) -> PricingConfig:
        if self.experts > len(self.models):
            raise ValueError(f"{self.experts} experts need at least as many models, {len(self.models)} given")
        return self


class PreferenceConfig(_Strict):
    zero_probability: float = Field(default=0.3, ge=0, le=1, description="Chance that a cost, latency or alias weight is 0.")
    avoid_probability: float = Field(
        default=0.15, ge=0, le=1, description="Chance that an alias weight is negative: the user wants that model avoided."
    )
    stated_probability: float = Field(default=0.5, ge=0, le=1, description="Chance the preference is also said in words.")


class ModelPrice(_Strict):
    model: str
    input_price_per_million: float
    output_price_per_million: float
    seconds_per_call: float


class Pricing(_Strict):
    experts: dict[str, ModelPrice]  # alias -> the model behind it for this task
    tool_seconds_per_call: float


class Preference(_Strict):
    """Weights over the reward's features; their absolute values sum to 1. Accuracy is always positive.

    An alias weight is positive when the user favours that model, negative when they want it avoided
    (calls to it lower the reward), zero when they do not mind.
    """

    accuracy: float
    cost: float
    latency: float
    aliases: dict[str, float]
    statement: str | None = None  # the preference in the user's words, when the task states it


def _draw(rng: random.Random, low_high: tuple[float, float], digits: int = 2) -> float:
    low, high = low_high
    return round(rng.uniform(low, high), digits)


def draw_pricing(rng: random.Random, config: PricingConfig) -> Pricing:
    models = rng.sample(config.models, config.experts)
    experts = {
        f"expert-{number}": ModelPrice(
            model=model,
            input_price_per_million=_draw(rng, config.input_price_per_million),
            output_price_per_million=_draw(rng, config.output_price_per_million),
            seconds_per_call=_draw(rng, config.seconds_per_call),
        )
        for number, model in enumerate(models, start=1)
    }
    return Pricing(experts=experts, tool_seconds_per_call=_draw(rng, config.tool_seconds_per_call, 3))


def draw_preference(rng: random.Random, pricing: Pricing, config: PreferenceConfig) -> Preference:
    def weight(may_avoid: bool = False) -> float:
        roll = rng.random()
        if roll < config.zero_probability:
            return 0.0
        if may_avoid and roll < config.zero_probability + config.avoid_probability:
            return -rng.random()
        return rng.random()

    raw = {"accuracy": 0.2 + rng.random(), "cost": weight(), "latency": weight()}
    raw |= {alias: weight(may_avoid=True) for alias in pricing.experts}
    total = sum(abs(value) for value in raw.values())
    weights = {name: round(value / total, 4) for name, value in raw.items()}
    statement = _statement(weights, pricing) if rng.random() < config.stated_probability else None
    return Preference(
        accuracy=weights["accuracy"],
        cost=weights["cost"],
        latency=weights["latency"],
        aliases={alias: weights[alias] for alias in pricing.experts},
        statement=statement,
    )


def _statement(weights: dict[str, float], pricing: Pricing) -> str:
    """The strongest wishes in words: avoided and favoured models, then cost or speed if they weigh most."""
    parts = [f"please do not use {price.model}" for alias, price in pricing.experts.items() if weights[alias] < 0]
    favourite = max(pricing.experts, key=lambda alias: weights[alias])
    if weights[favourite] >= 0.15:
        parts.append(f"if you need help, ask {pricing.experts[favourite].model}")
    if weights["cost"] >= max(weights["latency"], 0.15):
        parts.append("keep the cost as low as you can")
    elif weights["latency"] >= 0.15:
        parts.append("be as quick as you can")
    return ("You tell the agent: " + "; ".join(parts) + ".") if parts else "You tell the agent to get it right above all."


class SynthesisConfig(_Strict):
    """What a run of task synthesis draws from (the pipeline's run config embeds it)."""

    writes: dict[Annotated[int, Field(ge=1, le=4)], Annotated[float, Field(ge=0)]] = Field(
        default={1: 0.45, 2: 0.3, 3: 0.18, 4: 0.07}, description="How many writes a task has: the difficulty mix."
    )
    conditional: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="Chance that a write following one whose result the caller asks to be told is requested only "
        "'if that value is below T' (true or not, half the time each).",
    )
    information: float = Field(
        default=0.18,
        ge=0,
        le=1,
        description="Chance that a task only asks to be told something (the grammar's goals whose tool is a read): no writes.",
    )
    refusal: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="Chance that a write task also carries an ask a tool's rules forbid (the grammar's refusals).",
    )
    pricing: PricingConfig = PricingConfig()
    preference: PreferenceConfig = PreferenceConfig()

    @model_validator(mode="after")
    def _some_writes(self) -> SynthesisConfig:
        if not self.writes or sum(self.writes.values()) <= 0:
            raise ValueError("'writes' needs a positive weight for at least one count")
        return self
