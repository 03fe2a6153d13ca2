"""Value generators a spec declares per column, used by `toolscale populate`.

Each generator is plain data; the populate stage interprets it with a seeded RNG, so the same
spec, size and seed always give the same rows. No generator runs code from the spec.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Generator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FakerGenerator(_Generator):
    """A Faker provider, e.g. `first_name`, `email`, `street_address`, `company`.

    Faker costs 5-100 us a value, so a column that is not unique draws `pool` values from Faker
    and its rows sample among them; a unique column draws one value a row.
    """

    kind: Literal["faker"]
    provider: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    args: dict[str, Any] = {}
    locale: str = "en_US"
    pool: int = Field(default=1000, ge=1, description="Distinct values drawn from Faker for a non-unique column.")


class ChoiceGenerator(_Generator):
    kind: Literal["choice"]
    values: list[str | int | float | bool] = Field(min_length=1)
    weights: list[Annotated[float, Field(ge=0)]] | None = None

    @model_validator(mode="after")
    def _weights_match_values(self) -> ChoiceGenerator:
        if self.weights is not None and len(self.weights) != len(self.values):
            raise ValueError(f"'weights' has {len(self.weights)} entries but 'values' has {len(self.values)}")
        if self.weights is not None and sum(self.weights) <= 0:
            raise ValueError("'weights' must not all be zero")
        return self


class _Range(_Generator):
    @model_validator(mode="after")
    def _ordered(self) -> _Range:
        low, high = (getattr(self, name) for name in type(self).range_fields)
        if low > high:
            raise ValueError(f"{type(self).range_fields[0]!r} ({low}) exceeds {type(self).range_fields[1]!r} ({high})")
        return self

    range_fields: ClassVar[tuple[str, str]] = ("min", "max")


class IntegerGenerator(_Range):
    kind: Literal["integer"]
    min: int
    max: int


class RealGenerator(_Range):
    kind: Literal["real"]
    min: float
    max: float
    decimals: int = Field(default=2, ge=0, le=6)


class DateGenerator(_Range):
    """A date or datetime between `min_days` and `max_days` from the domain's clock (a datetime to the minute)."""

    kind: Literal["date"]
    min_days: int
    max_days: int

    range_fields: ClassVar[tuple[str, str]] = ("min_days", "max_days")


class PatternGenerator(_Generator):
    """Ids such as 'ACC-{seq:06d}': seq is the row's 1-based position in its table, which is its rowid.

    Tools' `generated_ids` number new rows MAX(rowid) + 1, so they never collide with populated ids.
    """

    kind: Literal["pattern"]
    pattern: str = Field(min_length=1)


class ReferenceGenerator(_Range):
    """A foreign key.

    By default the column *drives* its table: each row of the referenced table gets between `min`
    and `max` children, and the table's row count is their sum. With `pick`, each row takes a
    uniformly random row of the referenced table instead (a distinct one when the column is unique);
    a table has at most one driving reference, and none when it declares `rows`.
    """

    kind: Literal["reference"]
    min: int = Field(default=1, ge=0)
    max: int = Field(default=1, ge=0)
    pick: bool = False


class LookupGenerator(_Generator):
    """A copy of a column of the row that another column of this table references (e.g. a line's unit
    price from its product), filled once that reference is generated."""

    kind: Literal["lookup"]
    via: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="A reference column of this table.")
    column: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="The column of the referenced table to copy.")


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
    | LookupGenerator
    | ConstantGenerator,
    Field(discriminator="kind"),
]
