"""Value generators a spec declares per column, used by `toolscale populate`.

Each generator is plain data; the populate stage interprets it with a seeded RNG, so the same
spec, size and seed always give the same rows. No generator runs code from the spec.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Generator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FakerGenerator(_Generator):
    """A Faker provider, e.g. `first_name`, `email`, `street_address`, `company`."""

    kind: Literal["faker"]
    provider: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    args: dict[str, Any] = {}
    locale: str = "en_US"


class ChoiceGenerator(_Generator):
    kind: Literal["choice"]
    values: list[str | int | float | bool] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights_match_values(self) -> ChoiceGenerator:
        if self.weights is not None and len(self.weights) != len(self.values):
            raise ValueError(f"'weights' has {len(self.weights)} entries but 'values' has {len(self.values)}")
        return self


class IntegerGenerator(_Generator):
    kind: Literal["integer"]
    min: int
    max: int


class RealGenerator(_Generator):
    kind: Literal["real"]
    min: float
    max: float
    decimals: int = Field(default=2, ge=0, le=6)


class DateGenerator(_Generator):
    """A date or datetime between `min_days` and `max_days` from the domain's clock."""

    kind: Literal["date"]
    min_days: int
    max_days: int


class PatternGenerator(_Generator):
    """Ids such as 'ACC-{seq:06d}': seq counts rows of the table from 1."""

    kind: Literal["pattern"]
    pattern: str = Field(min_length=1)


class ReferenceGenerator(_Generator):
    """A foreign key: each parent row gets between `min` and `max` children."""

    kind: Literal["reference"]
    min: int = Field(default=1, ge=0)
    max: int = Field(default=1, ge=0)


class ConstantGenerator(_Generator):
    kind: Literal["constant"]
    value: str | int | float | bool | None


Generator = Annotated[
    FakerGenerator
    | ChoiceGenerator
    | IntegerGenerator
    | RealGenerator
    | DateGenerator
    | PatternGenerator
    | ReferenceGenerator
    | ConstantGenerator,
    Field(discriminator="kind"),
]
