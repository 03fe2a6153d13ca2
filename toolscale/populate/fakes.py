"""Seeded, locale-aware Faker instances, and Faker values as plain column values."""

from __future__ import annotations

import datetime as dt
import decimal
from functools import cache
from typing import Any

from faker import Factory
from faker.generator import Generator as FakerInstance


class FakerError(Exception):
    """A locale, provider or argument set Faker cannot serve; the message says which."""


@cache
def faker_for(locale: str) -> FakerInstance:
    """One Faker generator per locale (building one loads every provider); callers seed it before use."""
    try:
        return Factory.create(locale)
    except AttributeError as error:
        raise FakerError(f"unknown Faker locale {locale!r}") from error


def plain(value: Any) -> Any:
    """A Faker value as a column value: dates as ISO text, decimals as floats."""
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def faker_values(locale: str, provider: str, args: dict[str, Any], seed: int, count: int) -> list[Any]:
    """`count` values of a provider from a Faker seeded with `seed`."""
    fake = faker_for(locale)
    fake.seed_instance(seed)
    method = getattr(fake, provider)
    try:
        return [plain(method(**args)) for _ in range(count)]
    except (TypeError, ValueError, AttributeError) as error:
        raise FakerError(f"Faker's {provider}({args}) failed: {error}") from error


def faker_sample(locale: str, provider: str, args: dict[str, Any]) -> Any:
    """One value, to check that the provider exists and accepts the arguments."""
    if provider.startswith("_") or not callable(getattr(faker_for(locale), provider, None)):
        raise FakerError(f"Faker has no provider {provider!r} for locale {locale!r}")
    return faker_values(locale, provider, args, seed=0, count=1)[0]
