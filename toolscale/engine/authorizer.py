"""The SQLite authorizer: spec SQL may only SELECT, INSERT, UPDATE and DELETE the domain's own tables.

SQLite consults the authorizer while it compiles each statement, so a statement a spec should never
run (DDL, ATTACH, PRAGMA, reads of sqlite_master or of the engine's tables) is refused before it
executes, whether or not the spec passed validation.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from toolscale.engine.schema import CHANGE_LOG, TRIGGER_PREFIX

Authorizer = Callable[[int, str | None, str | None, str | None, str | None], int]

# Table-valued JSON functions let a tool bind a list argument as JSON text and iterate over it.
JSON_TABLE_FUNCTIONS = frozenset({"json_each", "json_tree"})

# Functions that would make a tool's outcome depend on something other than the database state: chance,
# the wall clock (CURRENT_DATE and friends are calls of these names; `date` and the other time functions
# are replaced on every connection by clock-free ones, see toolscale.engine.datetimes), the connection's
# history, or code outside the engine.
FORBIDDEN_FUNCTIONS = frozenset(
    {
        "random",
        "randomblob",
        "current_date",
        "current_time",
        "current_timestamp",
        "timediff",
        "load_extension",
        "changes",
        "total_changes",
        "last_insert_rowid",
    }
)

_DATA_ACTIONS = {
    sqlite3.SQLITE_INSERT: "INSERT",
    sqlite3.SQLITE_UPDATE: "UPDATE",
    sqlite3.SQLITE_DELETE: "DELETE",
    sqlite3.SQLITE_READ: "READ",
}

# Authorizer action codes by name, for messages that say what was refused. Listed by hand: the sqlite3
# module's other SQLITE_ constants (limits, error codes) reuse the same small numbers.
_ACTIONS = (
    "CREATE_INDEX", "CREATE_TABLE", "CREATE_TEMP_INDEX", "CREATE_TEMP_TABLE", "CREATE_TEMP_TRIGGER", "CREATE_TEMP_VIEW",
    "CREATE_TRIGGER", "CREATE_VIEW", "DELETE", "DROP_INDEX", "DROP_TABLE", "DROP_TEMP_INDEX", "DROP_TEMP_TABLE",
    "DROP_TEMP_TRIGGER", "DROP_TEMP_VIEW", "DROP_TRIGGER", "DROP_VIEW", "INSERT", "PRAGMA", "READ", "SELECT",
    "TRANSACTION", "UPDATE", "ATTACH", "DETACH", "ALTER_TABLE", "REINDEX", "ANALYZE", "CREATE_VTABLE", "DROP_VTABLE",
    "FUNCTION", "SAVEPOINT", "RECURSIVE",
)  # fmt: skip
_SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"})
ACTION_NAMES = {getattr(sqlite3, f"SQLITE_{name}"): name.replace("_", " ") for name in _ACTIONS}


def statement_refusal(action: int, arg1: str | None) -> str:
    """Why a statement of this kind is refused, by the name of the statement."""
    if action == sqlite3.SQLITE_CREATE_TABLE and (arg1 or "").startswith("sqlite_stat"):
        action = sqlite3.SQLITE_ANALYZE  # ANALYZE makes its statistics table first
    return f"{ACTION_NAMES.get(action, str(action))} statements are not allowed"


@dataclass
class DomainAuthorizer:
    """Allows spec statements to touch `tables` only; records the first refusal for error messages.

    `privileged` is switched on by the engine around its own bookkeeping statements (savepoints,
    change-log reads). The change-log triggers may always write the change log.
    """

    tables: Collection[str]
    privileged: bool = False
    refusal: str | None = field(default=None)

    def refuse(self, reason: str) -> None:
        """Record why a statement was stopped (the first reason of a call wins)."""
        if self.refusal is None:
            self.refusal = reason

    def reset(self) -> None:
        self.refusal = None

    def __call__(self, action: int, arg1: str | None, arg2: str | None, database: str | None, trigger: str | None) -> int:
        if self.privileged:
            return sqlite3.SQLITE_OK
        reason = self._refusal_reason(action, arg1, arg2, trigger)
        if reason is None:
            return sqlite3.SQLITE_OK
        self.refuse(reason)
        return sqlite3.SQLITE_DENY

    def _refusal_reason(self, action: int, arg1: str | None, arg2: str | None, trigger: str | None) -> str | None:
        if action == sqlite3.SQLITE_SELECT or action == sqlite3.SQLITE_RECURSIVE:
            return None
        if action == sqlite3.SQLITE_FUNCTION:
            return f"function {arg2}() is not allowed" if (arg2 or "").lower() in FORBIDDEN_FUNCTIONS else None
        if action in _DATA_ACTIONS:
            if arg1 in self.tables:
                return None
            if action != sqlite3.SQLITE_READ and arg1 in _SCHEMA_TABLES:
                # A CREATE, DROP or ALTER asks to write the schema table first; it is refused next, by the
                # name of its kind. SQLite itself refuses any other write of the schema table.
                return None
            if action == sqlite3.SQLITE_READ and arg1 in JSON_TABLE_FUNCTIONS:
                return None
            if action == sqlite3.SQLITE_INSERT and arg1 == CHANGE_LOG and (trigger or "").startswith(TRIGGER_PREFIX):
                return None
            return f"{_DATA_ACTIONS[action]} on table {arg1!r} is not allowed (not a table of this domain)"
        return statement_refusal(action, arg1)
