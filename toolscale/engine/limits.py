"""Bounds on what one statement may cost: SQLite's length limits and a budget of virtual-machine steps.

Spec SQL (and, from LLM-written specs, SQL no person has read) runs on every tool call; a recursive
CTE, a cross join or `printf('%.*c', 9e8)` must end with a refusal, not a hang or a gigabyte. Steps are
counted, not seconds, so whether a call is over budget is the same on every machine.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

# The progress handler runs once per this many virtual-machine steps: rare enough to cost nothing.
STEP_GRANULARITY = 1_000
# About half a second of SQLite work per statement and one second per tool call; the costliest call the
# test suite makes (all shipped domains) takes under 1% of it.
STATEMENT_STEPS = 10_000_000
CALL_STEPS = 20_000_000
# A backstop for steps that are slow (a function over a megabyte of text is one step): seconds per call.
# Far above any legitimate call, so no real outcome depends on the machine's speed.
CALL_SECONDS = 5.0
# Populating runs each `derive` rule over whole tables: this many steps per staged row, and a floor.
POPULATE_STEPS_PER_ROW = 20_000
POPULATE_MIN_STEPS = 50_000_000

# The largest string or blob a statement may make (and a bound argument may be): 1 MiB.
MAX_LENGTH = 1 << 20
_LIMITS = {
    sqlite3.SQLITE_LIMIT_LENGTH: MAX_LENGTH,
    sqlite3.SQLITE_LIMIT_SQL_LENGTH: 1 << 20,
    sqlite3.SQLITE_LIMIT_COLUMN: 500,
    sqlite3.SQLITE_LIMIT_EXPR_DEPTH: 200,
    sqlite3.SQLITE_LIMIT_COMPOUND_SELECT: 100,
    sqlite3.SQLITE_LIMIT_FUNCTION_ARG: 100,
    sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH: 1_000,
    sqlite3.SQLITE_LIMIT_TRIGGER_DEPTH: 10,
    sqlite3.SQLITE_LIMIT_ATTACHED: 0,
}


def apply_length_limits(connection: sqlite3.Connection) -> None:
    for category, limit in _LIMITS.items():
        connection.setlimit(category, limit)


class StepBudget:
    """Interrupts the running statement when it, or the call it belongs to, is over its step budget.

    `on_exceeded` is told why, so the interruption reaches the caller as a refusal with its reason.
    The counters are plain attributes: the engine resets them on every call and statement, and that
    costs less than a method call.
    """

    def __init__(
        self,
        on_exceeded: Callable[[str], None],
        statement_steps: int = STATEMENT_STEPS,
        call_steps: int = CALL_STEPS,
        call_seconds: float = CALL_SECONDS,
    ) -> None:
        self._on_exceeded = on_exceeded
        self.statement_limit = statement_steps
        self.call_limit = call_steps
        self.call_seconds = call_seconds
        self.statement_steps = 0
        self.call_steps = 0
        # Set on the call's first progress tick, so a call that never ticks never reads the clock.
        self.deadline: float | None = None
        # On while the engine runs its own bookkeeping (change-log reads, audits), which no budget bounds.
        self.suspended = False

    def install(self, connection: sqlite3.Connection) -> None:
        connection.set_progress_handler(self._tick, STEP_GRANULARITY)

    def start_call(self) -> None:
        self.statement_steps = self.call_steps = 0
        self.deadline = None

    def _tick(self) -> int:
        if self.suspended:
            return 0
        self.statement_steps += STEP_GRANULARITY
        self.call_steps += STEP_GRANULARITY
        if self.statement_steps > self.statement_limit:
            self._on_exceeded(f"the statement ran over its budget of {self.statement_limit:,} SQLite steps")
            return 1
        if self.call_steps > self.call_limit:
            self._on_exceeded(f"the call ran over its budget of {self.call_limit:,} SQLite steps")
            return 1
        now = time.monotonic()
        if self.deadline is None:
            self.deadline = now + self.call_seconds
        elif now > self.deadline:
            self._on_exceeded(f"the call ran over its budget of {self.call_seconds:g} seconds")
            return 1
        return 0
