"""Expert pricing from the model catalog: real list prices, drawn around per task within a factor,
siblings in their list order, models that fit the domain, and stated preferences the prices bear out."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from pydantic import ValidationError

from toolscale.domain.loader import domain_dir, load_domain
from toolscale.populate.stage import populate
from toolscale.tasks.catalog import CatalogError, load_catalog, parse_catalog
from toolscale.tasks.grammar import GRAMMAR_FILE, load_grammar
from toolscale.tasks.preference import (
    ModelPrice,
    PreferenceConfig,
    Pricing,
    PricingConfig,
    SynthesisConfig,
    call_cost,
    draw_preference,
    draw_pricing,
    offered_models,
    statement_contradictions,
    statement_of,
)
from toolscale.tasks.run import synthesize_domain
from toolscale.train.config import ExpertsConfig
from toolscale.train.data import pricing as pricing_prompt
from toolscale.train.data import prompt

GENERAL = ["general", "reasoning", "tool-use"]
EVERYTHING = ["general", "reasoning", "tool-use", "math", "code"]


def test_the_catalog_lists_real_models_at_their_list_prices() -> None:
    catalog = load_catalog()
    # ToolOrchestra's own figures, dollars per million input / output tokens.
    for name, listed in {"gpt-5": (1.25, 10.0), "gpt-5-mini": (0.25, 2.0), "qwen3-32b": (0.8, 0.8)}.items():
        model = catalog.model(name)
        assert model is not None
        assert (model.input_price_per_million, model.output_price_per_million) == listed
    assert len({model.family for model in catalog.models}) >= 5


@pytest.mark.parametrize("factor", [1.5, 4.0])
def test_drawn_prices_stay_within_the_factor_and_keep_siblings_in_list_order(factor: float) -> None:
    config = PricingConfig(experts=6, price_factor=factor, latency_factor=factor)
    catalog = load_catalog()
    rng = random.Random(7)
    spread: set[float] = set()
    for _ in range(3000):
        drawn = draw_pricing(rng, config, EVERYTHING)
        for price in drawn.experts.values():
            listed = catalog.model(price.model)
            assert listed is not None
            ratio = price.input_price_per_million / listed.input_price_per_million
            assert 1 / factor - 0.01 <= ratio <= factor + 0.01
            assert 1 / factor - 0.01 <= price.seconds_per_call / listed.seconds_per_call <= factor + 0.01
            spread.add(round(ratio, 2))
            for other in drawn.experts.values():
                sibling = catalog.model(other.model)
                assert sibling is not None
                if sibling.family != listed.family:
                    continue
                if listed.input_price_per_million <= sibling.input_price_per_million:
                    assert price.input_price_per_million <= other.input_price_per_million, (price, other)
                if listed.output_price_per_million <= sibling.output_price_per_million:
                    assert price.output_price_per_million <= other.output_price_per_million, (price, other)
    assert len(spread) > 20, "prices must vary from task to task, or a policy could memorize them"


def test_a_domain_offers_only_models_good_at_what_its_tasks_need() -> None:
    restaurant = load_domain("restaurant").expert_strengths
    offered = {model.name for model in offered_models(PricingConfig(), restaurant)}
    assert not offered & {"qwen2.5-math-72b", "qwen2.5-math-7b", "qwen2.5-coder-32b"}
    assert {"gpt-5", "gpt-5-mini", "qwen3-32b"} <= offered
    assert "qwen2.5-math-72b" in {model.name for model in offered_models(PricingConfig(), load_domain("bank").expert_strengths)}
    chosen = PricingConfig(models=["gpt-5", "gpt-5-mini", "qwen3-32b", "qwen2.5-math-72b"])
    assert [model.name for model in offered_models(chosen, restaurant)] == ["gpt-5", "gpt-5-mini", "qwen3-32b"]


def test_pricing_configs_naming_unknown_or_too_few_models_are_errors() -> None:
    with pytest.raises(ValidationError, match=r"not in the catalog models\.yaml: gpt-17"):
        PricingConfig(models=["gpt-5", "gpt-17"])
    with pytest.raises(ValidationError, match=r"3 experts need at least as many models, 2 given"):
        PricingConfig(models=["gpt-5", "gpt-5-mini"])
    with pytest.raises(ValueError, match=r"3 experts need at least as many catalog models good at general; 2 are"):
        offered_models(PricingConfig(models=["gpt-5", "gpt-5-mini", "qwen2.5-math-7b"]), ["general"])


def test_a_bad_catalog_names_file_field_and_reason(tmp_path: Path) -> None:
    source = tmp_path / "models.yaml"
    entry = "{name: m, family: f, provider: p, input_price_per_million: -1, output_price_per_million: 1, seconds_per_call: 1"
    with pytest.raises(CatalogError, match=r"models\.yaml: models\[0\]\.input_price_per_million: Input should be greater than 0"):
        parse_catalog(f"models: [{entry}, strengths: [general]}}]", source)
    with pytest.raises(CatalogError, match=r"models\.yaml: models\[0\]\.strengths\[0\]: Input should be 'general'"):
        parse_catalog(f"models: [{entry.replace('-1', '1')}, strengths: [cooking]}}]", source)


def _pricing(*prices: tuple[str, float, float, float]) -> Pricing:
    experts = {
        f"expert-{number}": ModelPrice(model=model, input_price_per_million=i, output_price_per_million=o, seconds_per_call=s)
        for number, (model, i, o, s) in enumerate(prices, start=1)
    }
    return Pricing(experts=experts, tool_seconds_per_call=0.1)


def test_a_statement_never_asks_for_the_dearest_expert_while_wanting_the_cost_low() -> None:
    pricing = _pricing(("claude-opus-4.1", 15.0, 75.0, 12.0), ("gpt-5-mini", 0.25, 2.0, 6.0), ("qwen3-32b", 0.8, 0.8, 5.0))
    assert max(pricing.experts.values(), key=call_cost).model == "claude-opus-4.1"
    cost_wins = {"accuracy": 0.2, "cost": 0.4, "latency": 0.0, "expert-1": 0.3, "expert-2": 0.05, "expert-3": 0.05}
    assert statement_of(cost_wins, pricing) == "You tell the agent: keep the cost as low as you can."
    model_wins = cost_wins | {"cost": 0.25, "expert-1": 0.45}
    assert statement_of(model_wins, pricing) == "You tell the agent: if you need help, ask claude-opus-4.1."
    # Naming a cheaper expert beside the wish is consistent, and said in full.
    cheap_favourite = cost_wins | {"expert-1": 0.05, "expert-3": 0.3}
    assert (
        statement_of(cheap_favourite, pricing)
        == "You tell the agent: if you need help, ask qwen3-32b; keep the cost as low as you can."
    )
    slow = cost_wins | {"cost": 0.0, "latency": 0.4}
    assert statement_of(slow, pricing) == "You tell the agent: be as quick as you can."
    contradicting = "You tell the agent: if you need help, ask claude-opus-4.1; keep the cost as low as you can."
    assert statement_contradictions(contradicting, pricing) == [
        "asks for claude-opus-4.1, the dearest expert on offer, and to keep the cost low"
    ]


def test_drawn_statements_never_contradict_their_prices() -> None:
    rng = random.Random(3)
    stated = 0
    for _ in range(5000):
        pricing = draw_pricing(rng, PricingConfig(), GENERAL)
        preference = draw_preference(rng, pricing, PreferenceConfig(stated_probability=1.0))
        assert preference.statement is not None
        stated += "if you need help, ask" in preference.statement and "keep the cost" in preference.statement
        assert statement_contradictions(preference.statement, pricing) == [], (preference, pricing)
    assert stated > 100  # both wishes are still said together where the prices allow it


def test_synthesized_tasks_carry_catalog_prices_that_the_trainer_shows() -> None:
    spec = load_domain("restaurant")
    database = populate(spec, 60, seed=0)
    grammar = load_grammar(domain_dir("restaurant") / GRAMMAR_FILE, spec)
    kept = synthesize_domain(database, grammar, SynthesisConfig(), seed=0, indices=range(30)).kept
    assert kept
    catalog = load_catalog()
    for task in kept:
        assert len(task.pricing.experts) == 3
        for alias, price in task.pricing.experts.items():
            listed = catalog.model(price.model)
            assert listed is not None
            assert set(listed.strengths) & set(spec.expert_strengths)
            line = f"- {alias}: {price.model}, ${price.input_price_per_million:g} per million input tokens"
            assert line in pricing_prompt(task)
            assert "good at " + ", ".join(listed.strengths) in prompt(task)[0]["content"]
        assert statement_contradictions(task.preference.statement, task.pricing) == []


def test_the_simulated_experts_know_every_catalog_model() -> None:
    assert {model.name for model in load_catalog().models} <= set(ExpertsConfig().models)
