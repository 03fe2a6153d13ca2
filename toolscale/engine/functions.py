"""Deterministic SQL functions the engine adds to every domain connection.

SQLite's own `round` rounds half away from zero on a decimal printout of the double, which differs
from Python's correctly rounded `round` (0.125 -> 0.13 versus 0.12); a domain that must match a
Python reference needs the latter. And a calculator tool needs arithmetic over a user-supplied
expression: `arithmetic` parses it with a small recursive-descent parser and applies Python's own
number operators, so results and error messages follow Python without ever evaluating the input.

Functions:
- `round_even(x, digits)`: Python's `round(float(x), digits)`; NULL in, NULL out.
- `arithmetic(expression)`: the value of an expression of numbers, `+ - * / // **`, parentheses and
  spaces, as a float; NULL when it has no value (see `arithmetic_error`).
- `arithmetic_error(expression)`: why `arithmetic(expression)` has no value, or NULL when it has one.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Callable
from functools import lru_cache

from toolscale.engine.builtins import register_guarded_builtins

Number = int | float

# Integer powers beyond this many bits would take unbounded time and memory to compute exactly.
MAX_POWER_BITS = 100_000

_TOKEN = re.compile(r"\s*(?:(\d+\.\d*|\.\d+|\d+)|(\*\*|//|[-+*/()]))")


class ExpressionError(Exception):
    """An expression without a value; the message says why."""


def _tokens(expression: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    while position < len(expression):
        if expression[position:].isspace():
            break
        match = _TOKEN.match(expression, position)
        if match is None:
            raise ExpressionError(f"invalid character {expression[position:].lstrip()[0]!r} in expression")
        tokens.append(match.group(1) or match.group(2))
        position = match.end()
    return tokens


def _number(token: str) -> Number:
    if "." in token:
        return float(token)
    if len(token) > 1 and token.startswith("0") and token.strip("0"):
        raise ExpressionError("leading zeros in decimal integer literals are not permitted")
    return int(token)


def _power(base: Number, exponent: Number) -> Number:
    exact = isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1
    if exact and exponent * math.log2(abs(base)) > MAX_POWER_BITS:
        raise ExpressionError("int too large to convert to float")
    result: Number = base**exponent
    if isinstance(result, complex):  # a negative float to a fractional power
        raise ExpressionError("complex result")
    return result


_BINARY: dict[str, Callable[[Number, Number], Number]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "//": lambda a, b: a // b,
}


class _Parser:
    """Python's grammar restricted to numbers: sum := term (('+'|'-') term)*;
    term := factor (('*'|'/'|'//') factor)*; factor := ('+'|'-') factor | power;
    power := atom ['**' factor]; atom := NUMBER | '(' sum ')'."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise ExpressionError("invalid syntax: unexpected end of expression")
        self.index += 1
        return token

    def parse(self) -> Number:
        value = self.sum()
        if self.peek() is not None:
            raise ExpressionError(f"invalid syntax: unexpected {self.peek()!r}")
        return value

    def sum(self) -> Number:
        value = self.term()
        while self.peek() in ("+", "-"):
            operator = self.take()
            value = _BINARY[operator](value, self.term())
        return value

    def term(self) -> Number:
        value = self.factor()
        while self.peek() in ("*", "/", "//"):
            operator = self.take()
            value = _BINARY[operator](value, self.factor())
        return value

    def factor(self) -> Number:
        if self.peek() == "+":
            self.take()
            return +self.factor()
        if self.peek() == "-":
            self.take()
            return -self.factor()
        return self.power()

    def power(self) -> Number:
        base = self.atom()
        if self.peek() == "**":
            self.take()
            return _power(base, self.factor())
        return base

    def atom(self) -> Number:
        token = self.take()
        if token == "(":
            value = self.sum()
            if self.take() != ")":
                raise ExpressionError("invalid syntax: '(' was never closed")
            return value
        if token[0].isdigit() or token[0] == ".":
            return _number(token)
        raise ExpressionError(f"invalid syntax: unexpected {token!r}")


@lru_cache(maxsize=1024)
def evaluate(expression: str) -> float | str:
    """The float value of `expression`, or the reason it has none (a str)."""
    try:
        return float(_Parser(_tokens(expression)).parse())
    except ExpressionError as failure:
        return str(failure)
    except (ArithmeticError, ValueError) as error:  # Python's own messages: "division by zero", ...
        return str(error)


def _arithmetic(expression: object) -> float | None:
    if not isinstance(expression, str):
        return None
    value = evaluate(expression)
    return value if isinstance(value, float) else None


def _arithmetic_error(expression: object) -> str | None:
    if not isinstance(expression, str):
        return None if expression is None else "expression must be text"
    value = evaluate(expression)
    return value if isinstance(value, str) else None


def _round_even(value: object, digits: object) -> float | None:
    if value is None or digits is None:
        return None
    if not isinstance(value, int | float) or not isinstance(digits, int):
        raise ValueError("round_even(x, digits) takes a number and an integer")
    return round(float(value), digits)


FUNCTIONS: dict[str, tuple[int, Callable[..., float | str | None]]] = {
    "round_even": (2, _round_even),
    "arithmetic": (1, _arithmetic),
    "arithmetic_error": (1, _arithmetic_error),
}


def register_functions(connection: sqlite3.Connection, on_refusal: Callable[[str], None]) -> None:
    """Add the engine's functions to a connection (spec checks, populating and episodes alike), and
    SQLite's time functions and printf in guarded form; `on_refusal` is told why a call was refused."""
    for name, (arity, function) in FUNCTIONS.items():
        connection.create_function(name, arity, function, deterministic=True)
    register_guarded_builtins(connection, on_refusal)
