"""Near-duplicates: tasks with the same write sequence and the same wording once values are masked.

A task's wording is its reason_for_call and task_instructions with what varies between otherwise equal
tasks masked: every run of characters holding a digit (numbers, dates, ids, times), e-mail addresses,
capitalized words inside a sentence (names of people, places, products; months), and number and
ordinal words ("two", "second"). Two tasks with the same writes (tool names, in order) and the same
wording differ only in values: they teach the same thing.

The cap keeps the share of near-duplicates among a domain's kept tasks (tasks sharing their key with
another kept task) at most `max_share` of the tasks asked for: a candidate that would push the count
past that budget is rejected as `near_duplicate`. Candidates are taken in order, so the cap is as
deterministic as the candidates.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

from toolscale.tasks.record import ToolScaleTask

_NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand million first second "
    "third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth fifteenth sixteenth "
    "seventeenth eighteenth nineteenth twentieth thirtieth"
)
_MASKS = (
    (re.compile(r"\S+@\S+"), "<email>"),
    (re.compile(r"\S*\d\S*"), "<n>"),
    (re.compile(r"(?<=[^.!?:;\s(\"] )[A-Z][\w'&.-]*"), "<name>"),  # a capitalized word not opening a sentence
    (re.compile(r"\b(?:" + "|".join(_NUMBER_WORDS.split()) + r")\b", re.IGNORECASE), "<n>"),
)


def wording(text: str) -> str:
    """`text` with its values masked (see the module's docstring), spaces collapsed."""
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    return " ".join(text.split())


def near_duplicate_key(writes: Sequence[str], texts: Sequence[str]) -> str:
    """What near-duplicates share: the write tools in order and the masked wording of `texts`."""
    joined = "\x1f".join([*writes, "\x1e", *(wording(text) for text in texts)])
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def writes_of(task: ToolScaleTask, tool_kinds: Mapping[str, str]) -> list[str]:
    return [action.name for action in task.actions if tool_kinds.get(action.name) == "write"]


def wording_of(task: ToolScaleTask) -> list[str]:
    """The texts near-duplicates are compared by: reason_for_call and task_instructions."""
    instructions = task.user_scenario.instructions
    if isinstance(instructions, str):
        return [instructions]
    return [instructions.reason_for_call, instructions.task_instructions]


def task_key(task: ToolScaleTask, tool_kinds: Mapping[str, str]) -> str:
    return near_duplicate_key(writes_of(task, tool_kinds), wording_of(task))


def near_duplicate_detail(first: str | None) -> str:
    return f"the same writes and wording (values aside) as task {first}; near-duplicates are at their cap"


def near_duplicate_share(keys: Sequence[str]) -> float:
    """The share of tasks whose key another task has too."""
    counts = Counter(keys)
    return sum(count for count in counts.values() if count > 1) / len(keys) if keys else 0.0


class NearDuplicateCap:
    """Admits tasks in order while near-duplicates stay within `max_share` of `tasks` (the tasks asked for)."""

    def __init__(self, tasks: int, max_share: float) -> None:
        self._budget = math.floor(tasks * max_share)
        self._groups: Counter[str] = Counter()
        self._near = 0  # admitted tasks whose key another admitted task has
        self._first: dict[str, str] = {}

    def first_of(self, key: str) -> str | None:
        """The id of the first admitted task with this key."""
        return self._first.get(key)

    def admit(self, key: str, task_id: str) -> bool:
        group = self._groups[key]
        added = 0 if group == 0 else 2 if group == 1 else 1  # a pair makes its first member a near-duplicate too
        if self._near + added > self._budget:
            return False
        self._near += added
        self._groups[key] += 1
        self._first.setdefault(key, task_id)
        return True
