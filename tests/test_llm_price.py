"""What an LLM backend's tokens cost: the catalog's list prices for the model, or for the one `price_as` names."""

from __future__ import annotations

import pytest

from toolscale.errors import ToolScaleError
from toolscale.llm.config import LLMConfig
from toolscale.llm.usage import Price
from toolscale.tasks.catalog import llm_price, load_catalog


def openai_config(**fields: str) -> LLMConfig:
    return LLMConfig.model_validate({"backend": "openai", "base_url": "http://127.0.0.1:8000/v1", **fields})


def test_a_catalog_model_is_priced_at_its_list_prices() -> None:
    listed = load_catalog().model("gpt-5-mini")
    assert listed is not None
    expected = Price(input_per_million=listed.input_price_per_million, output_per_million=listed.output_price_per_million)
    assert llm_price(openai_config(model="gpt-5-mini")) == expected
    # A served name the catalog does not know, priced as a catalog model.
    assert llm_price(openai_config(model="my-finetune", price_as="gpt-5-mini")) == expected


def test_a_model_the_catalog_does_not_know_costs_nothing_unless_price_as_names_an_unknown_one() -> None:
    assert llm_price(openai_config(model="local")) is None
    assert llm_price(LLMConfig()) is None
    with pytest.raises(ToolScaleError, match=r"^llm.price_as: no model 'gpt-9' in the model catalog$"):
        llm_price(openai_config(model="local", price_as="gpt-9"))


def test_a_price_costs_tokens_per_million() -> None:
    assert Price(input_per_million=2.0, output_per_million=10.0).cost(500_000, 100_000) == pytest.approx(2.0)
