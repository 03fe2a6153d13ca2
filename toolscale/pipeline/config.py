"""Run configs (`pipelines/*.yaml`): what a pipeline run builds, validated before anything is written."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import pydantic
from pydantic import Field, model_validator

from toolscale.domain.loader import domain_names
from toolscale.llm.config import LLMConfig
from toolscale.settings import SettingsError, load_settings
from toolscale.spec.models import Identifier
from toolscale.strict import StrictModel
from toolscale.tasks.catalog import load_catalog
from toolscale.tasks.preference import SynthesisConfig

# Counts and seeds are whole numbers written as such: `true`, "12" and 1e26 are refused, not coerced,
# and each has an upper bound, so a config that would fail midway (after a database was written) fails
# before anything is written.
MAX_SEED = 2**32 - 1
MAX_ROWS = 10_000_000
MAX_TASKS = 100_000_000
Count = Annotated[int, Field(strict=True, ge=1)]
Share = Annotated[float, Field(strict=True, ge=0, le=1, allow_inf_nan=False)]


class DomainRun(StrictModel):
    """One domain of a run; size and tasks fall back to the run's defaults."""

    describe: str | None = Field(
        default=None,
        min_length=1,
        description="A new domain: written first by `llm` from this description (docs/authoring.md) when domains/ "
        "does not hold it yet, then run like the others.",
    )
    name: str = Field(description="A folder of domains/.")
    size: Annotated[Count, Field(le=MAX_ROWS)] | None = Field(
        default=None, description="Rows of the caller table (default: the spec's)."
    )
    tasks: Annotated[Count, Field(le=MAX_TASKS)] | None = Field(default=None, description="Verified tasks to keep.")
    llm: LLMConfig | None = Field(default=None, description="The model that writes a `describe` domain.")
    clock: datetime = Field(default=datetime(2025, 6, 2, 10), description="A `describe` domain's fixed now.")

    @pydantic.field_validator("name")
    @classmethod
    def _known(cls, name: str, info: pydantic.ValidationInfo) -> str:
        if info.data.get("describe") is not None:  # a new domain (`describe` is validated first)
            try:
                pydantic.TypeAdapter(Identifier).validate_python(name)
            except pydantic.ValidationError:
                raise ValueError(f"{name!r} is not a domain name (lower case letters, digits and _)") from None
            return name
        known = domain_names()
        if name not in known:
            raise ValueError(f"unknown domain {name!r}; known: {', '.join(known)}")
        return name

    @model_validator(mode="after")
    def _writer(self) -> DomainRun:
        if self.describe is not None and (self.llm is None or self.llm.backend == "template"):
            raise ValueError("llm: a `describe` domain needs a model to write it (backend openai or vllm)")
        return self


class PipelineLLM(LLMConfig):
    """The `llm:` section: the backend (toolscale/llm/config.py) and what synthesis asks of a model."""

    rewrite: bool = Field(
        default=True, description="With a model: every kept grammar task's scenario is rewritten in a caller's voice."
    )
    proposed_share: Share = Field(
        default=0.0, description="With a model: the share of candidates it proposes (gold actions too) instead of the grammar."
    )

    @model_validator(mode="after")
    def _model_needed(self) -> PipelineLLM:
        if self.backend == "template" and self.proposed_share > 0:
            raise ValueError("proposed_share: needs a model (backend openai or vllm), not 'template'")
        if self.price_as is not None and load_catalog().model(self.price_as) is None:
            raise ValueError(f"price_as: {self.price_as!r} is not a model of the catalog (catalog/models.yaml)")
        return self


class RunConfig(StrictModel):
    name: str = Field(strict=True, min_length=1, description="The run's name, shown in the dataset card.")
    output_dir: Path = Field(default=Path("output"), description="Where shards, card, stats and the manifest go.")
    seed: int = Field(default=0, strict=True, ge=0, le=MAX_SEED, description="Seeds database population and task synthesis.")
    domains: list[DomainRun] = Field(min_length=1, description="Domain names or {name, size, tasks} entries.")
    tasks: Annotated[Count, Field(le=MAX_TASKS)] = Field(
        default=1000, description="Verified tasks per domain unless a domain says."
    )
    max_candidates_factor: Annotated[float, Field(strict=True, ge=1, le=1000, allow_inf_nan=False)] = Field(
        default=3.0, description="A domain fails when tasks x this many candidates did not give enough tasks."
    )
    synthesis: SynthesisConfig = Field(default=SynthesisConfig(), description="Writes mix, conditionals, pricing, preference.")
    llm: PipelineLLM = Field(
        default=PipelineLLM(), description="Who writes scenarios: the grammar's templates (offline, the default) or a model."
    )
    unit_candidates: Annotated[Count, Field(le=1_000_000)] = Field(
        default=250, description="Candidates one Ray task synthesizes and verifies: the unit of work and of resuming."
    )
    shard_size: Annotated[Count, Field(le=MAX_ROWS)] = Field(default=5000, description="Rows per Parquet shard.")
    max_near_duplicate_share: Share = Field(
        default=0.2,
        description="Cap on a domain's kept tasks that share writes and wording (values aside) with another kept task, "
        "as a share of its tasks; candidates past it are rejected as near_duplicate.",
    )
    splits: dict[Literal["train", "validation", "test"], Share] = Field(
        default={"train": 0.9, "validation": 0.05, "test": 0.05},
        description="Share of tasks per split, assigned by a hash of the task id (stable when a run grows).",
    )

    @pydantic.field_validator("domains", mode="before")
    @classmethod
    def _names_allowed(cls, value: object) -> object:
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RunConfig:
        names = [domain.name for domain in self.domains]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"domains: listed more than once: {', '.join(repeated)}")
        if not self.splits or abs(sum(self.splits.values()) - 1) > 1e-9:
            raise ValueError(f"splits: shares must sum to 1, they sum to {sum(self.splits.values()):g}")
        return self

    def tasks_for(self, domain: DomainRun) -> int:
        return domain.tasks if domain.tasks is not None else self.tasks


class ConfigError(SettingsError):
    """A run config that cannot be used; the message names the file, the key and the reason."""


def load_run_config(path: Path) -> RunConfig:
    return load_settings(path, RunConfig, error=ConfigError)


def fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
