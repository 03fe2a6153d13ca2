"""When a communicate_info value counts as told, and when telling it would prove nothing.

One rule, used by the verifier (which rejects a task whose value is weak) and by the trainer's
outcome (which looks for each value in the agent's replies):

- A value is found in a text case-insensitively with commas ignored (as τ²-bench compares), and whole:
  a number as a number of equal value ("12.50" or "$12.5" tell 12.5; "1970" and "TXN-0070" do not
  tell 70), any other value as a whole token ("gold" is not found in "golden").
- A value is weak, and proves nothing about what the agent read, when the user's own scenario already
  says it (the agent could repeat it), when it has fewer than `MIN_CHARACTERS` characters (such short
  values turn up in replies by chance), or when it is a word any reply may say (`COMMON_WORDS`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

MIN_CHARACTERS = 3
COMMON_WORDS = frozenset({"yes", "no", "none", "true", "false", "null", "ok", "done", "n/a"})

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
# A number standing alone: not glued to a word, an id or another number's digits;
# "...4267" (an account's last digits) stands alone; the 5 of "3.5" does not.
_NUMBER_IN_TEXT = re.compile(r"(?<![\w\-])(?<!\d\.)-?\d+(?:\.\d+)?(?![\w]|\.\d)")


def normalized(text: str) -> str:
    return text.lower().replace(",", "")


@lru_cache(maxsize=4096)
def _numbers(text: str) -> frozenset[float]:
    return frozenset(float(match) for match in _NUMBER_IN_TEXT.findall(text))


def _number(value: str) -> float | None:
    return float(value) if _NUMBER.fullmatch(value) else None


def found(value: str, text: str) -> bool:
    """`value` occurs in `text` under the rule above (`text` already `normalized`)."""
    value = normalized(value).strip()
    if not value:
        return False
    number = _number(value)
    if number is not None:
        return number in _numbers(text)
    start = text.find(value)
    while start >= 0:
        end = start + len(value)
        if (start == 0 or not text[start - 1].isalnum()) and (end == len(text) or not text[end].isalnum()):
            return True
        start = text.find(value, start + 1)
    return False


def told(info: Sequence[str], replies: Sequence[str]) -> bool:
    """Every value was said in some reply."""
    said = [normalized(reply) for reply in replies]
    return all(any(found(item, reply) for reply in said) for item in info)


def weakness(value: str, scenario: str) -> str | None:
    """Why telling `value` would prove nothing (None: it is strong); `scenario` is what the user is given."""
    text = normalized(value).strip()
    if len(text) < MIN_CHARACTERS:
        return f"{value!r} is shorter than {MIN_CHARACTERS} characters"
    if text in COMMON_WORDS:
        return f"{value!r} is a word any reply may say"
    if found(value, normalized(scenario)):
        return f"{value!r} already appears in the scenario"
    return None
