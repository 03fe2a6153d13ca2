"""Per-task preference vectors, model aliases and pricing (docs/design.md, Reward).

Each task gets its own draw: which real models of the catalog (`catalog/models.yaml`) stand behind
the aliases expert-1..N, what they cost and how slow they are (around their list figures, within a
configured factor), and how much the user weighs accuracy, cost, latency and each alias. Drawing
them per task makes a policy read them rather than memorize them.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Sequence
from typing import Annotated

from pydantic import Field, model_validator

from toolscale.strict import StrictModel
from toolscale.tasks.catalog import CATALOG_FILE, CatalogModel, load_catalog

Range = Annotated[tuple[float, float], Field(description="[low, high], drawn uniformly")]


class PricingConfig(StrictModel):
    models: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Catalog models (catalog/models.yaml) the expert aliases may stand for; None: every catalog model "
        "good at one of the domain's expert_strengths.",
    )
    experts: int = Field(default=3, ge=1, description="How many aliases (expert-1..N) a task offers.")
    price_factor: float = Field(
        default=1.5,
        ge=1,
        description="Per task, each model's prices are its list prices times a factor drawn log-uniformly from "
        "[1/f, f]; siblings keep their list order (a mini model never costs more than its big sibling).",
    )
    latency_factor: float = Field(
        default=1.5, ge=1, description="Likewise for each model's seconds per call around its typical latency."
    )
    tool_seconds_per_call: Range = (0.01, 0.3)

    @model_validator(mode="after")
    def _known_models(self) -> PricingConfig:
        if self.models is not None:
            catalog = load_catalog()
            unknown = [name for name in self.models if catalog.model(name) is None]
            if unknown:
                raise ValueError(f"models not in the catalog {CATALOG_FILE.name}: {', '.join(unknown)}")
            if self.experts > len(set(self.models)):
                raise ValueError(f"{self.experts} experts need at least as many models, {len(set(self.models))} given")
        return self


class PreferenceConfig(StrictModel):
    zero_probability: float = Field(default=0.3, ge=0, le=1, description="Chance that a cost, latency or alias weight is 0.")
    avoid_probability: float = Field(
        default=0.15, ge=0, le=1, description="Chance that an alias weight is negative: the user wants that model avoided."
    )
    stated_probability: float = Field(default=0.5, ge=0, le=1, description="Chance the preference is also said in words.")


class ModelPrice(StrictModel):
    model: str
    input_price_per_million: float
    output_price_per_million: float
    seconds_per_call: float


class Pricing(StrictModel):
    experts: dict[str, ModelPrice]  # alias -> the model behind it for this task
    tool_seconds_per_call: float


class Preference(StrictModel):
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


def _factor(rng: random.Random, factor: float) -> float:
    """A factor drawn log-uniformly from [1/factor, factor]: as likely to halve a price as to double it."""
    return math.exp(rng.uniform(-math.log(factor), math.log(factor)))


def _figure(value: float) -> float:
    """Three significant digits, as a price list shows them."""
    return float(f"{value:.3g}")


def offered_models(config: PricingConfig, strengths: Sequence[str]) -> list[CatalogModel]:
    """The catalog models a domain's tasks may offer: good at one of its strengths (and named in the config)."""
    return list(_offered(None if config.models is None else tuple(config.models), config.experts, tuple(strengths)))


@functools.lru_cache(maxsize=256)
def _offered(models: tuple[str, ...] | None, experts: int, strengths: tuple[str, ...]) -> tuple[CatalogModel, ...]:
    """`offered_models`, worked out once per configuration: every task draws from it."""
    fitting = load_catalog().fitting(strengths)
    offered = fitting if models is None else [model for model in fitting if model.name in models]
    if len(offered) < experts:
        raise ValueError(
            f"{experts} experts need at least as many catalog models good at {', '.join(strengths)}; "
            f"{len(offered)} are: {', '.join(model.name for model in offered) or 'none'}"
        )
    return tuple(offered)


def _keep_list_order(models: Sequence[CatalogModel], drawn: dict[str, list[float]], field: int) -> None:
    """Within a family, a model listed no dearer than a sibling is drawn no dearer either: capped at its price.

    Dearest first, so each cap is a sibling's final price.
    """
    list_price = {model.name: (model.input_price_per_million, model.output_price_per_million)[field] for model in models}
    for model in sorted(models, key=lambda model: -list_price[model.name]):
        for sibling in models:
            if sibling.family == model.family and list_price[model.name] <= list_price[sibling.name]:
                drawn[model.name][field] = min(drawn[model.name][field], drawn[sibling.name][field])


def draw_pricing(rng: random.Random, config: PricingConfig, strengths: Sequence[str]) -> Pricing:
    """Which catalog models stand behind expert-1..N for one task, at prices and latencies drawn around their list figures."""
    models = rng.sample(offered_models(config, strengths), config.experts)
    # One factor per model: a provider's discount or surcharge moves its input and output prices together.
    factors = {model.name: _factor(rng, config.price_factor) for model in models}
    drawn = {
        model.name: [
            _figure(model.input_price_per_million * factors[model.name]),
            _figure(model.output_price_per_million * factors[model.name]),
        ]
        for model in models
    }
    if len({model.family for model in models}) < len(models):  # siblings on offer: most draws have none
        for field in (0, 1):
            _keep_list_order(models, drawn, field)
    experts = {
        f"expert-{number}": ModelPrice(
            model=model.name,
            input_price_per_million=drawn[model.name][0],
            output_price_per_million=drawn[model.name][1],
            seconds_per_call=_figure(model.seconds_per_call * _factor(rng, config.latency_factor)),
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
    statement = statement_of(weights, pricing) if rng.random() < config.stated_probability else None
    return Preference(
        accuracy=weights["accuracy"],
        cost=weights["cost"],
        latency=weights["latency"],
        aliases={alias: weights[alias] for alias in pricing.experts},
        statement=statement,
    )


# The tokens of a typical expert call (the policy, the request and a question in; a short answer out), by which
# a statement's "keep the cost low" is weighed against the experts on offer.
TYPICAL_CALL_TOKENS = (1000, 200)
_ASK = "if you need help, ask "
_CHEAP = "keep the cost as low as you can"
_QUICK = "be as quick as you can"


def call_cost(price: ModelPrice) -> float:
    """Dollars of a typical call to this expert at the task's prices."""
    inputs, outputs = TYPICAL_CALL_TOKENS
    return (inputs * price.input_price_per_million + outputs * price.output_price_per_million) / 1e6


def _dearest(pricing: Pricing) -> str:
    return max(pricing.experts, key=lambda alias: call_cost(pricing.experts[alias]))


def _slowest(pricing: Pricing) -> str:
    return max(pricing.experts, key=lambda alias: pricing.experts[alias].seconds_per_call)


def statement_of(weights: dict[str, float], pricing: Pricing) -> str:
    """The strongest wishes in words: avoided and favoured models, then cost or speed if they weigh most.

    A wish that the prices contradict is left unsaid, the weaker one giving way: a user who wants the
    cost kept low never names the dearest expert on offer to ask, nor one who wants speed the slowest.
    """
    parts = [f"please do not use {price.model}" for alias, price in pricing.experts.items() if weights[alias] < 0]
    favourite = max(pricing.experts, key=lambda alias: weights[alias])
    ask = weights[favourite] >= 0.15
    pace: tuple[str, str] | None = None  # the wish, and the weight that backs it
    if weights["cost"] >= max(weights["latency"], 0.15):
        pace = (_CHEAP, "cost")
    elif weights["latency"] >= 0.15:
        pace = (_QUICK, "latency")
    if ask and pace is not None:
        clashing = _dearest(pricing) if pace[0] == _CHEAP else _slowest(pricing)
        if favourite == clashing:
            if weights[favourite] >= weights[pace[1]]:
                pace = None
            else:
                ask = False
    if ask:
        parts.append(_ASK + pricing.experts[favourite].model)
    if pace is not None:
        parts.append(pace[0])
    return ("You tell the agent: " + "; ".join(parts) + ".") if parts else "You tell the agent to get it right above all."


def statement_contradictions(statement: str | None, pricing: Pricing) -> list[str]:
    """Where a stated preference contradicts the task's prices: it asks for the dearest expert while wanting the
    cost low, or the slowest while wanting speed. Empty for a consistent statement (or none)."""
    if statement is None:
        return []
    found = []
    named = {price.model: alias for alias, price in pricing.experts.items()}
    asked = [named[model] for model in named if _ASK + model + ";" in statement or _ASK + model + "." in statement]
    for alias in asked:
        model = pricing.experts[alias].model
        if _CHEAP in statement and alias == _dearest(pricing):
            found.append(f"asks for {model}, the dearest expert on offer, and to keep the cost low")
        if _QUICK in statement and alias == _slowest(pricing):
            found.append(f"asks for {model}, the slowest expert on offer, and to be quick")
    return found


class SynthesisConfig(StrictModel):
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
