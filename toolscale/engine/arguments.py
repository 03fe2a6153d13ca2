"""What a tool call's arguments may hold before they reach a validator or SQLite.

A model can write anything JSON text can spell, and Python's json module reads more than JSON allows
(NaN, Infinity, integers of any size, lone surrogates from "\\udfff"). None of it may crash a call; each
is refused with the place it was found.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 32  # nested arrays and objects; no tool's parameters come near it
_INT64 = range(-(2**63), 2**63)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _text_problem(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"is not valid Unicode (lone surrogate {text[error.start]!r} at character {error.start})"
    return None


def _scalar_problem(value: object) -> str | None:
    if isinstance(value, str):
        return _text_problem(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return None if value in _INT64 else "is an integer out of the 64-bit range"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"is {value!r}, which JSON does not allow"
    return f"is a {type(value).__name__}, not a JSON value"


def _plainly_fine(arguments: object) -> bool:
    """The common case, checked fast: an object of ASCII text, 64-bit integers, finite numbers,
    booleans and nulls. Anything else takes the full walk. (Its keys are left to the tool's schema,
    which allows only the parameters' names.)"""
    if type(arguments) is not dict:
        return False
    for value in arguments.values():
        kind = type(value)
        if kind is str:
            if not value.isascii():
                return False
        elif kind is int:
            if not _INT64_MIN <= value <= _INT64_MAX:
                return False
        elif kind is float:
            if value - value != 0:  # inf - inf and nan - nan are nan
                return False
        elif value is not None and kind is not bool:
            return False
    return True


def argument_problem(arguments: object, max_depth: int = MAX_DEPTH) -> str | None:
    """Why `arguments` cannot be a tool call's arguments ("location: reason"), or None.

    Not being an object is left to the tool's schema, which says so in its own words.
    """
    if _plainly_fine(arguments):
        return None
    pending: list[tuple[str, Any, int]] = [("", arguments, 0)]
    while pending:
        where, value, depth = pending.pop()
        if depth > max_depth:
            return f"{where or '(arguments)'}: nests deeper than {max_depth} levels"
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str):
                    return f"{where or '(arguments)'}: key {key!r} is not a string"
                problem = _text_problem(key)
                if problem is not None:
                    return f"{where or '(arguments)'}: a key {problem}"
                pending.append((f"{where}/{key}" if where else key, item, depth + 1))
        elif isinstance(value, list | tuple):
            pending.extend((f"{where}/{index}", item, depth + 1) for index, item in enumerate(value))
        else:
            problem = _scalar_problem(value)
            if problem is not None:
                return f"{where}: {problem}"
    return None
