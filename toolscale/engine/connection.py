"""Private SQLite copies of a database image, reused across episodes.

Opening a copy costs a deserialize of the whole image plus parsing its schema and preparing every
statement again; rolling back one transaction costs only what the episode changed. So an episode is
a transaction on a pooled copy: it begins on check-out and is rolled back on check-in, and the copy
keeps its parsed schema and prepared statements for the next episode.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection
from typing import Any

from toolscale.engine.authorizer import DomainAuthorizer
from toolscale.engine.functions import register_functions
from toolscale.engine.limits import StepBudget, apply_length_limits


class EpisodeConnection:
    def __init__(self, image: bytes, tables: Collection[str]) -> None:
        self.authorizer = DomainAuthorizer(tables=frozenset(tables))
        self.sqlite = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self.sqlite.deserialize(image)
        self.sqlite.execute("PRAGMA foreign_keys = ON")
        # The rows REPLACE (INSERT OR REPLACE, UPDATE OR REPLACE) deletes to make room fire the delete
        # trigger only with recursive triggers on; without it the change log, and the state hash, miss them.
        self.sqlite.execute("PRAGMA recursive_triggers = ON")
        apply_length_limits(self.sqlite)
        self.budget = StepBudget(self.authorizer.refuse)
        self.budget.install(self.sqlite)
        # Once per copy: (re)defining a function expires every statement SQLite has prepared.
        register_functions(self.sqlite, self.authorizer.refuse)
        # Instantiating the JSON table functions touches the schema; do it before the authorizer is on.
        self.sqlite.execute("SELECT 1 FROM json_each('[]'), json_tree('[]')").fetchall()
        self.sqlite.set_authorizer(self.authorizer)

    def start_call(self) -> None:
        """A new call: a fresh step budget, and no refusal left over from an earlier statement."""
        self.budget.start_call()
        self.authorizer.refusal = None

    def execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        """Run one spec statement under its own step budget (and the call's)."""
        self.budget.statement_steps = 0
        return self.sqlite.execute(sql, parameters)

    def engine_sql(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        """Run one of the engine's own statements (transactions, change-log reads) past the authorizer."""
        self.authorizer.privileged = self.budget.suspended = True
        try:
            return self.sqlite.execute(sql, parameters).fetchall()
        finally:
            self.authorizer.privileged = self.budget.suspended = False

    def close(self) -> None:
        self.sqlite.close()


class ConnectionPool:
    """Idle copies of one database image; thread-safe, grows on demand, never shared by two episodes."""

    def __init__(self, image: bytes, tables: Collection[str]) -> None:
        self._image = image
        self._tables = tuple(tables)
        self._idle: list[EpisodeConnection] = []
        self._lock = threading.Lock()

    def check_out(self) -> EpisodeConnection:
        with self._lock:
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            connection = EpisodeConnection(self._image, self._tables)
        connection.start_call()
        connection.engine_sql("BEGIN")
        return connection

    def check_in(self, connection: EpisodeConnection) -> None:
        """Undo the episode and keep the copy for the next one."""
        try:
            connection.engine_sql("ROLLBACK")
        except sqlite3.Error:
            connection.close()  # a copy in an unknown state is not reused
            return
        with self._lock:
            self._idle.append(connection)
