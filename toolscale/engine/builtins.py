"""SQLite built-ins that could read the wall clock or run without bound, in guarded form.

Time functions. `date('now')`, `date()`, `'localtime'` and `'utc'` make a tool's outcome depend on when and where it
runs; spec SQL must use the :now and :today parameters instead. Which argument reads the clock is
known only when a statement runs (`date(:from_date)` with "now" from the model, `date('n' || 'ow')`),
so each connection gets its own `date`, `time`, `datetime`, `julianday`, `unixepoch` and `strftime`:
they refuse a clock read and otherwise return what SQLite's own function returns, computed by it on
a private connection that has nothing else to do.

printf() and format(). A width or precision such as `printf('%.*c', 9e8, 'x')` makes one call write
900 MB in seconds, and SQLite's progress handler cannot interrupt a function; the guarded printf
refuses widths and precisions over MAX_PRINTF_WIDTH.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable
from functools import lru_cache

from toolscale.engine.limits import apply_length_limits

SqlArgument = int | float | str | bytes | None

# The functions and the position of their first time value (strftime's first argument is the format).
TIME_FUNCTIONS = {"date": 0, "time": 0, "datetime": 0, "julianday": 0, "unixepoch": 0, "strftime": 1}
# Arguments that read the clock or the machine's time zone, as SQLite matches them (case-insensitively).
CLOCK_WORDS = frozenset({"now", "localtime", "utc"})


MAX_PRINTF_WIDTH = 1_000
# A printf conversion: flags, width, precision (digits or '*', taken from the next argument), type.
_CONVERSION = re.compile(r"%[-+ 0#!,]*(\*|\d+)?(?:\.(\*|\d*))?l{0,2}([a-zA-Z%])?")


class RefusedCallError(Exception):
    """Raised inside SQLite by a guarded function it refuses to run; the reason goes to `on_refusal`."""


_local = threading.local()


def _builtin(sql_function: str, arguments: tuple[SqlArgument, ...]) -> SqlArgument:
    connection: sqlite3.Connection | None = getattr(_local, "connection", None)
    if connection is None:
        connection = _local.connection = sqlite3.connect(":memory:")
        apply_length_limits(connection)
    placeholders = ", ".join("?" * len(arguments))
    value: SqlArgument = connection.execute(f"SELECT {sql_function}({placeholders})", arguments).fetchone()[0]
    return value


# Calls repeat (date(:today, '-30 days') on every call of a tool, on every row of a query): their verdicts and
# values are kept, unless an argument is long text, which would make the cache hold megabytes.
_CACHED_LENGTH = 64


@lru_cache(maxsize=8192)
def _checked(sql_function: str, arguments: tuple[SqlArgument, ...], types: tuple[type, ...]) -> tuple[str | None, SqlArgument]:
    """Why the call is refused (None: it is not) and its value. `types` is part of the key: 1 and 1.0 are
    equal keys, and SQLite may format them apart."""
    del types
    reason = _GUARDS[sql_function](sql_function, arguments)
    return (reason, None) if reason is not None else (None, _builtin(sql_function, arguments))


def _short(arguments: tuple[SqlArgument, ...]) -> bool:
    for argument in arguments:  # a plain loop: this runs for every row a time function is called on
        kind = type(argument)
        if (kind is str or kind is bytes) and len(argument) > _CACHED_LENGTH:  # type: ignore[arg-type]
            return False
    return True


def clock_read(sql_function: str, arguments: tuple[SqlArgument, ...]) -> str | None:
    """Why this call would read the wall clock, or None when its value depends on its arguments only."""
    if len(arguments) <= TIME_FUNCTIONS[sql_function]:
        return f"{sql_function}() without a time value reads the wall clock; pass :now or :today"
    for argument in arguments:
        # SQLite reads a blob argument as the text it holds.
        text = argument.decode("utf-8", "replace") if isinstance(argument, bytes) else argument
        if isinstance(text, str) and text.strip().lower() in CLOCK_WORDS:
            return f"{sql_function}() with {text.strip()!r} reads the wall clock or time zone; use :now or :today"
    return None


def _as_integer(value: SqlArgument) -> int:
    try:
        return int(float(value.decode("utf-8", "replace") if isinstance(value, bytes) else value or 0))
    except (ValueError, OverflowError):
        return 0  # what SQLite reads a non-number as


def printf_width(sql_function: str, arguments: tuple[SqlArgument, ...]) -> str | None:
    """Why this printf would write an unbounded string, or None."""
    if not arguments or not isinstance(arguments[0], str):
        return None
    taken = 1  # arguments consumed so far: the format itself
    for match in _CONVERSION.finditer(arguments[0]):
        for part in match.group(1), match.group(2):
            if part == "*":
                size = abs(_as_integer(arguments[taken])) if taken < len(arguments) else 0
                taken += 1
            else:
                size = int(part) if part else 0
            if size > MAX_PRINTF_WIDTH:
                return f"{sql_function}() with a width or precision of {size:,} (at most {MAX_PRINTF_WIDTH:,})"
        if match.group(3) not in (None, "%"):
            taken += 1
    return None


_GUARDS: dict[str, Callable[[str, tuple[SqlArgument, ...]], str | None]] = {
    **dict.fromkeys(TIME_FUNCTIONS, clock_read),
    "printf": printf_width,
    "format": printf_width,
}


def _function(sql_function: str, on_refusal: Callable[[str], None]) -> Callable[..., SqlArgument]:
    guard = _GUARDS[sql_function]

    def call(*arguments: SqlArgument) -> SqlArgument:
        if _short(arguments):
            reason, value = _checked(sql_function, arguments, tuple(map(type, arguments)))
        else:
            reason = guard(sql_function, arguments)
            value = None if reason is not None else _builtin(sql_function, arguments)
        if reason is not None:
            on_refusal(reason)
            raise RefusedCallError(reason)
        return value

    return call


def register_guarded_builtins(connection: sqlite3.Connection, on_refusal: Callable[[str], None]) -> None:
    for sql_function in ("printf", "format"):
        connection.create_function(sql_function, -1, _function(sql_function, on_refusal), deterministic=True)
    for sql_function, first_time_value in TIME_FUNCTIONS.items():
        function = _function(sql_function, on_refusal)
        connection.create_function(sql_function, -1, function, deterministic=True)
        # A call without a time value gets its own registration, so EXPLAIN names it (e.g. "date(0)")
        # and the spec validator refuses it before it runs.
        connection.create_function(sql_function, first_time_value, function, deterministic=True)


def clock_signatures() -> frozenset[str]:
    """How EXPLAIN names a time function called without a time value."""
    return frozenset(f"{name}({first})" for name, first in TIME_FUNCTIONS.items())
