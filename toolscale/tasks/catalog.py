"""The model catalog: the real models a task's expert aliases may stand for (`catalog/models.yaml`).

Each entry holds a model's family, its list prices per million input and output tokens, a typical
latency and what it is good at. Task pricing is drawn around these list figures, and a domain offers
only models good at something its tasks need (`expert_strengths` in its spec). The same list prices cost
the tokens an LLM backend spends writing data (`llm_price`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, model_validator

from toolscale.errors import ToolScaleError
from toolscale.llm.config import LLMConfig
from toolscale.llm.usage import Price
from toolscale.resources import data_dir
from toolscale.spec.errors import format_location
from toolscale.spec.models import ExpertStrength
from toolscale.strict import StrictModel

CATALOG_FILE = data_dir("catalog") / "models.yaml"


class CatalogError(ValueError):
    """A catalog file that cannot be used; the message names the file, the field and the reason."""


class CatalogModel(StrictModel):
    name: str = Field(min_length=1, description="The model's name as tasks show it, e.g. gpt-5-mini.")
    family: str = Field(min_length=1, description="Siblings share a family; drawn prices keep their list order.")
    provider: str = Field(min_length=1)
    input_price_per_million: float = Field(gt=0, description="List price, US dollars per million input tokens.")
    output_price_per_million: float = Field(gt=0, description="List price, US dollars per million output tokens.")
    seconds_per_call: float = Field(gt=0, description="Typical latency of one call.")
    strengths: list[ExpertStrength] = Field(min_length=1)


class Catalog(StrictModel):
    models: list[CatalogModel] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Catalog:
        names = [model.name for model in self.models]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"model names must be unique, repeated: {', '.join(repeated)}")
        return self

    def model(self, name: str) -> CatalogModel | None:
        return next((model for model in self.models if model.name == name), None)

    def fitting(self, strengths: Sequence[str]) -> list[CatalogModel]:
        """The models good at one of `strengths`, in catalog order."""
        wanted = set(strengths)
        return [model for model in self.models if wanted & set(model.strengths)]


def parse_catalog(text: str, source: Path) -> Catalog:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CatalogError(f"{source}: (top level): not valid YAML: {error}") from error
    try:
        return Catalog.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        raise CatalogError(f"{source}: {format_location(first['loc'])}: {first['msg']}") from error


@cache
def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    """The catalog (read once per process)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CatalogError(f"{path}: (top level): cannot be read: {error.strerror}") from error
    return parse_catalog(text, path)


def llm_price(config: LLMConfig, catalog: Catalog | None = None) -> Price | None:
    """The list prices that cost an LLM backend's tokens: the catalog entry `price_as` names, else `model`'s.

    A model the catalog does not know (a local one, say) is not priced, so its usage costs $0; a `price_as`
    the catalog does not know is a mistake in the config.
    """
    known = catalog if catalog is not None else load_catalog()
    name = config.price_as or config.model
    entry = known.model(name) if name is not None else None
    if entry is None:
        if config.price_as is not None:
            raise ToolScaleError(f"llm.price_as: no model {config.price_as!r} in the model catalog")
        return None
    return Price(input_per_million=entry.input_price_per_million, output_per_million=entry.output_price_per_million)
