"""Values as a person says them: dates in words, enum values as words, whole numbers without '.0'.

Synthesis renders every value a scenario names with `spoken`; the verifier accepts a write's argument
as stated when the scenario holds its spoken form, so the agent hears "August 2, 2025" or "first
class" and must pass the tool `2025-08-02` or `first_class`.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Any

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?")
_ENUM = re.compile(r"[a-z]+(?:_[a-z0-9]+)+")


def spoken(value: Any) -> str:
    """`value` in words: 50.0 is '50', '2025-08-02' is 'August 2, 2025', '2025-10-15T09:30:00' is
    'October 15, 2025 at 9:30 AM', 'first_class' is 'first class'; anything else as it is."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if not isinstance(value, str):
        return str(value)
    return _spoken_text(value)


@lru_cache(maxsize=65536)
def _spoken_text(value: str) -> str:
    """Texts repeat (names, dates, enum values, on every candidate): each is worked out once. Only text is
    cached: 1, 1.0 and True are one key and are said apart."""
    try:
        if _DATETIME.fullmatch(value):
            moment = dt.datetime.fromisoformat(value)
            return f"{_day(moment.date())} at {_clock(moment.time())}"
        if _DATE.fullmatch(value):
            return _day(dt.date.fromisoformat(value))
    except ValueError:  # shaped like a date but not one: say it as it is
        return value
    if _ENUM.fullmatch(value):
        return value.replace("_", " ")
    return value


def _day(day: dt.date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def _clock(time: dt.time) -> str:
    hour = time.hour % 12 or 12
    suffix = "AM" if time.hour < 12 else "PM"
    return f"{hour} {suffix}" if time.minute == 0 else f"{hour}:{time.minute:02d} {suffix}"
