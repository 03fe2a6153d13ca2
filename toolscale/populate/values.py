"""Column values from a generator, a whole column at a time.

Each column has its own RNG (and Faker seed) derived from the run's seed, the table and the column,
so one column's values do not depend on how many random numbers another column drew.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Callable, Sequence
from typing import Any

from toolscale.errors import ToolScaleError
from toolscale.populate.fakes import faker_for, plain
from toolscale.spec.generators import (
    ChoiceGenerator,
    ConstantGenerator,
    DateGenerator,
    FakerGenerator,
    Generator,
    IntegerGenerator,
    PatternGenerator,
    RealGenerator,
    ReferenceGenerator,
)
from toolscale.spec.models import Column

Draw = Callable[[int], list[Any]]

# How many fresh values a unique column may draw, per row, to replace duplicates before giving up.
_UNIQUE_RETRIES = 20


class PopulateError(ToolScaleError):
    """Rows that cannot be generated; the message names the domain, table, column and reason."""


def column_seed(seed: int, table: str, column: str) -> int:
    digest = hashlib.sha256(f"{seed}/{table}/{column}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def children_counts(generator: ReferenceGenerator, parents: int, rng: random.Random) -> list[int]:
    """How many children each parent row gets, for a driving reference."""
    return rng.choices(range(generator.min, generator.max + 1), k=parents)


def column_values(
    column: Column,
    count: int,
    rng: random.Random,
    seed: int,
    clock: dt.datetime,
    parents: Sequence[Any],
    where: str,
) -> list[Any]:
    """`count` values for a column that does not drive its table; `parents`: the referenced column's values."""
    generator = column.generator
    if generator is None:
        return [None] * count
    if isinstance(generator, PatternGenerator):
        # seq is the row's 1-based position, which is its rowid once the rows are inserted in order.
        pattern = generator.pattern
        if column.type == "integer":
            return list(range(1, count + 1))
        return [pattern.format(seq=seq) for seq in range(1, count + 1)]
    if isinstance(generator, ConstantGenerator):
        return [generator.value] * count
    unique = column.unique or column.primary_key
    if isinstance(generator, ReferenceGenerator):
        if not parents:
            if count and not column.nullable:
                raise PopulateError(f"{where}: references a table with no rows")
            return [None] * count
        if unique:
            if count > len(parents):
                raise PopulateError(f"{where}: {count} rows need distinct references but the referenced table has {len(parents)}")
            return rng.sample(list(parents), count)
        return rng.choices(parents, k=count)
    draw = _drawer(generator, column, rng, seed, clock, unique)
    return _unique(draw, count, where) if unique else draw(count)


def _drawer(generator: Generator, column: Column, rng: random.Random, seed: int, clock: dt.datetime, unique: bool) -> Draw:
    if isinstance(generator, FakerGenerator):
        return _faker_drawer(generator, rng, seed, unique)
    if isinstance(generator, ChoiceGenerator):
        values, weights = generator.values, generator.weights
        return lambda k: rng.choices(values, weights, k=k)
    if isinstance(generator, IntegerGenerator):
        low, high = generator.min, generator.max
        if column.type == "real":
            return lambda k: [float(rng.randint(low, high)) for _ in range(k)]
        return lambda k: [rng.randint(low, high) for _ in range(k)]
    if isinstance(generator, RealGenerator):
        real_low, real_high, decimals = generator.min, generator.max, generator.decimals
        return lambda k: [round(rng.uniform(real_low, real_high), decimals) for _ in range(k)]
    if isinstance(generator, DateGenerator):
        return _date_drawer(generator, column, rng, clock)
    raise AssertionError(f"no drawer for generator kind {generator.kind!r}")


def _faker_drawer(generator: FakerGenerator, rng: random.Random, seed: int, unique: bool) -> Draw:
    fake = faker_for(generator.locale)
    fake.seed_instance(seed)
    method, args = getattr(fake, generator.provider), generator.args
    if unique:
        return lambda k: [plain(method(**args)) for _ in range(k)]
    pool: list[Any] = []

    def draw(k: int) -> list[Any]:
        # Faker is slow per value: draw a pool of at most `pool` values once, then sample rows from it.
        if not pool:
            pool.extend(plain(method(**args)) for _ in range(min(k, generator.pool)))
        return rng.choices(pool, k=k)

    return draw


def _date_drawer(generator: DateGenerator, column: Column, rng: random.Random, clock: dt.datetime) -> Draw:
    if column.type == "date":
        today = clock.date()
        low, high = generator.min_days, generator.max_days
        return lambda k: [(today + dt.timedelta(days=rng.randint(low, high))).isoformat() for _ in range(k)]
    # A datetime to the minute, anywhere in the range of days.
    low, high = generator.min_days * 1440, generator.max_days * 1440
    return lambda k: [(clock + dt.timedelta(minutes=rng.randint(low, high))).isoformat() for _ in range(k)]


def _unique(draw: Draw, count: int, where: str) -> list[Any]:
    """`count` distinct values: duplicates are replaced, in row order, by fresh draws from the same stream."""
    values = draw(count)
    seen: set[Any] = set()
    duplicates: list[int] = []
    for index, value in enumerate(values):
        if value in seen:
            duplicates.append(index)
        seen.add(value)
    budget = _UNIQUE_RETRIES * len(duplicates)
    for index in duplicates:
        while True:
            if budget <= 0:
                raise PopulateError(f"{where}: cannot draw {count} distinct values (the generator repeats itself)")
            budget -= 1
            (value,) = draw(1)
            if value not in seen:
                seen.add(value)
                values[index] = value
                break
    return values
