"""An episode: tool calls on a private copy of a domain database.

`call` never raises for a bad call: an unknown tool, arguments that fail the tool's schema, a failed
precondition or a violated constraint all come back as an error observation, and a failed call
leaves the database exactly as it was (each write call runs inside its own savepoint).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from toolscale.engine import state
from toolscale.engine.arguments import argument_problem
from toolscale.engine.connection import EpisodeConnection
from toolscale.engine.schema import CHANGE_LOG
from toolscale.engine.tools import CompiledTool, openai_tool, render_message

if TYPE_CHECKING:
    from toolscale.engine.database import DomainDatabase

RowKey = tuple[str, int]  # (table, rowid)
RowDiff = dict[str, dict[str, Any] | None]
StateDiff = dict[str, dict[str, RowDiff]]


# What running a spec statement can raise besides a precondition: SQLite's errors, values it cannot bind,
# and a JSON column holding text that is not JSON when a result decodes it.
_STATEMENT_ERRORS = (sqlite3.Error, OverflowError, UnicodeError, ValueError, RecursionError)

# Why a call failed, for programs (verification, probing, metrics); `error` is the text for the agent.
FailureReason = Literal["unknown_tool", "invalid_arguments", "precondition", "constraint", "refused", "database"]


@dataclass(frozen=True)
class Observation:
    """What a tool call returns: its JSON output, or the error the agent is shown and why it failed."""

    ok: bool
    output: Any = None
    error: str | None = None
    reason: FailureReason | None = None
    precondition: int | None = None  # index of the failed precondition when reason == "precondition"

    @classmethod
    def failure(cls, reason: FailureReason, error: str, precondition: int | None = None) -> Observation:
        return cls(ok=False, error=error, reason=reason, precondition=precondition)

    @property
    def content(self) -> str:
        """The text the agent sees."""
        if not self.ok:
            return f"Error: {self.error}"
        # Text is shown as it is (as τ²-bench does), everything else as JSON.
        return self.output if isinstance(self.output, str) else json.dumps(self.output, ensure_ascii=False)


class _PreconditionFailedError(Exception):
    """Internal: precondition `index` failed with a message for the agent; the savepoint is rolled back."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


class Environment:
    def __init__(self, database: DomainDatabase) -> None:
        spec = database.spec
        self.spec = spec
        self.tools: Mapping[str, CompiledTool] = database.tools
        layout = database.layout
        self._check_messages = layout.check_messages
        self._clock = layout.clock
        self._layouts = layout.tables
        self._log_width = layout.log_width
        self._digest_sums = dict(database.digest_sums)
        # The hash of `_digest_sums`, made again only when first asked for after a change: reads change
        # nothing, and a verifier asks for it after every action.
        self._state_hash: str | None = database.state_hash
        # The image of every row touched this episode as it was when the episode began, and as it is now
        # (None: absent); both come from the change log, so a diff reads nothing back.
        self._baseline: dict[RowKey, state.Row | None] = {}
        self._latest: dict[RowKey, state.Row | None] = {}
        # The change log is only read, never emptied (the episode's rollback does that): entries up to
        # this seq are absorbed. Failed calls and undone queries roll their entries back with them.
        self._absorbed_seq = 0

        self._pool = database.connections
        self._episode: EpisodeConnection | None = self._pool.check_out()
        self._connection = self._episode.sqlite
        # Every spec statement runs through this: each has a step budget of its own (and the call's).
        self._execute = self._episode.execute
        self._budget = self._episode.budget
        self._authorizer = self._episode.authorizer

    # -- tool calls ---------------------------------------------------------------------------

    def call(self, name: str, arguments: Mapping[str, Any] | str | None = None) -> Observation:
        tool = self.tools.get(name) if isinstance(name, str) else None
        if tool is None:
            return Observation.failure("unknown_tool", f"Unknown tool {name!r}. Available tools: {', '.join(sorted(self.tools))}")
        if arguments is None:
            arguments = {}
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
                return Observation.failure("invalid_arguments", f"Arguments of {name} are not valid JSON: {error}")
        problem = argument_problem(arguments) or tool.argument_error(arguments)
        if problem is not None:
            return Observation.failure("invalid_arguments", f"Invalid arguments for {name}: {problem}")
        assert isinstance(arguments, Mapping)
        # A new call: a fresh budget and no refusal left from an earlier one (EpisodeConnection.start_call,
        # inlined: this runs on every call).
        budget = self._budget
        budget.statement_steps = budget.call_steps = 0
        budget.deadline = None
        self._authorizer.refusal = None
        parameters = tool.bind(arguments) | self._clock
        if not tool.writes:
            try:
                self._derive(tool, parameters)
                self._check_preconditions(tool, parameters, arguments)
                return Observation(ok=True, output=self._result(tool, parameters))
            except _PreconditionFailedError as failure:
                return Observation.failure("precondition", str(failure), failure.index)
            except _STATEMENT_ERRORS as error:
                return self._describe(error)
        return self._write(tool, parameters, arguments)

    def _write(self, tool: CompiledTool, parameters: dict[str, Any], arguments: Mapping[str, Any]) -> Observation:
        self._engine_sql("SAVEPOINT tool_call")
        try:
            self._derive(tool, parameters)
            self._check_preconditions(tool, parameters, arguments)
            self._generate_ids(tool, parameters)
            for effect in tool.spec.effects:
                self._execute(effect, parameters)
            output = self._result(tool, parameters)
            # Read inside the savepoint: a row the engine cannot read back (text that is not UTF-8)
            # undoes the call instead of leaving the state hash behind the database.
            changes = self._engine_sql(f"SELECT * FROM {CHANGE_LOG} WHERE seq > ? ORDER BY seq", (self._absorbed_seq,))
        except _PreconditionFailedError as failure:
            self._rollback()
            return Observation.failure("precondition", str(failure), failure.index)
        except _STATEMENT_ERRORS as error:
            self._rollback()
            return self._describe(error)
        self._engine_sql("RELEASE tool_call")
        self._absorb_changes(changes)
        return Observation(ok=True, output=output)

    def _generate_ids(self, tool: CompiledTool, parameters: dict[str, Any]) -> None:
        """Ids for the rows this call inserts; several ids for one table take consecutive numbers."""
        next_seq: dict[str, int] = {}
        for parameter, generated in tool.spec.generated_ids.items():
            if generated.table not in next_seq:
                (first,) = self._execute(f"SELECT COALESCE(MAX(rowid), 0) + 1 FROM {generated.table}").fetchone()
                next_seq[generated.table] = first
            parameters[parameter] = generated.pattern.format(seq=next_seq[generated.table])
            next_seq[generated.table] += 1

    def _derive(self, tool: CompiledTool, parameters: dict[str, Any]) -> None:
        for name, query in tool.spec.derived.items():
            row = self._execute(query, parameters).fetchone()
            parameters[name] = None if row is None else row[0]

    def _check_preconditions(self, tool: CompiledTool, parameters: dict[str, Any], arguments: Mapping[str, Any]) -> None:
        for index, precondition in enumerate(tool.spec.preconditions):
            if precondition.query is not None:
                if self._execute(precondition.query, parameters).fetchone() is None:
                    raise _PreconditionFailedError(index, render_message(precondition.error, arguments))
                continue
            assert precondition.fail_if is not None
            cursor = self._execute(precondition.fail_if, parameters)
            row = cursor.fetchone()
            if row is not None:
                values = dict(zip((column[0] for column in cursor.description), row, strict=True))
                raise _PreconditionFailedError(index, render_message(precondition.error, {**arguments, **values}))

    def _result(self, tool: CompiledTool, parameters: dict[str, Any]) -> Any:
        return None if tool.result is None else tool.result.render(self._execute, parameters)

    def _start_query(self) -> None:
        assert self._episode is not None, "the episode is closed"
        self._episode.start_call()

    def _rollback(self) -> None:
        self._engine_sql("ROLLBACK TO tool_call")
        self._engine_sql("RELEASE tool_call")

    def _engine_sql(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        assert self._episode is not None, "the episode is closed"
        return self._episode.engine_sql(sql, parameters)

    def _describe(self, error: Exception) -> Observation:
        refusal = self._authorizer.refusal
        self._authorizer.reset()
        if refusal is not None:
            return Observation.failure("refused", f"Statement refused: {refusal}")
        message = str(error)
        if isinstance(error, sqlite3.IntegrityError) and message.startswith("CHECK constraint failed: "):
            check = message.removeprefix("CHECK constraint failed: ")
            return Observation.failure("constraint", self._check_messages.get(check, message))
        if isinstance(error, sqlite3.IntegrityError):
            return Observation.failure("constraint", f"Constraint violated: {message}")
        return Observation.failure("database", f"Database error: {message}")

    # -- state ---------------------------------------------------------------------------------

    def _absorb_changes(self, entries: list[Any]) -> None:
        """Fold the rows the last call touched (its change-log entries) into the digest sums and the episode baseline."""
        if not entries:
            return
        self._absorbed_seq = entries[-1][0]
        width = self._log_width
        before: dict[RowKey, state.Row | None] = {}  # each touched row's image before the call
        after: dict[RowKey, state.Row | None] = {}  # and after it (the last entry that touched it wins)
        for _seq, table, old_rowid, new_rowid, *values in entries:
            layout = self._layouts[table]
            if old_rowid is not None:
                if (table, old_rowid) not in before:
                    before[(table, old_rowid)] = state.canonical_row(values[: len(layout.names)], layout.json_columns)
                after[(table, old_rowid)] = None  # deleted, or moved to another rowid
            if new_rowid is not None:
                before.setdefault((table, new_rowid), None)
                after[(table, new_rowid)] = state.canonical_row(values[width : width + len(layout.names)], layout.json_columns)
        for key, old_image in before.items():
            table = key[0]
            new_image = after[key]
            delta = (state.row_digest(table, new_image) if new_image is not None else 0) - (
                state.row_digest(table, old_image) if old_image is not None else 0
            )
            self._digest_sums[table] = (self._digest_sums[table] + delta) % state.MODULUS
            self._baseline.setdefault(key, old_image)
            self._latest[key] = new_image
        self._state_hash = None

    def state_hash(self) -> str:
        """The canonical hash of the current state; equal states have equal hashes, whatever the path."""
        if self._state_hash is None:
            self._state_hash = state.state_hash(self._digest_sums)
        return self._state_hash

    def rescanned_state_hash(self) -> str:
        """The state hash from a full scan of every table: an audit of the incremental `state_hash`."""
        sums = {}
        for table, layout in self._layouts.items():
            rows = self._engine_sql(f"SELECT {layout.columns} FROM {table}")
            sums[table] = state.table_digest_sum(table, rows, layout.json_columns)
        return state.state_hash(sums)

    def state_diff(self) -> StateDiff:
        """Rows that differ from the episode's start, per table and primary key: {"before", "after"}."""
        before: dict[str, dict[str, state.Row]] = {}
        after: dict[str, dict[str, state.Row]] = {}
        for key, old_image in self._baseline.items():
            table = key[0]
            pk = self._layouts[table].primary_key_index
            if old_image is not None:
                before.setdefault(table, {})[str(old_image[pk])] = old_image
            new_image = self._latest[key]
            if new_image is not None:
                after.setdefault(table, {})[str(new_image[pk])] = new_image
        diff: StateDiff = {}
        for table in sorted(set(before) | set(after)):
            old_rows, new_rows = before.get(table, {}), after.get(table, {})
            changed = {
                key: {"before": self._decode(table, old_rows.get(key)), "after": self._decode(table, new_rows.get(key))}
                for key in sorted(set(old_rows) | set(new_rows))
                if old_rows.get(key) != new_rows.get(key)
            }
            if changed:
                diff[table] = changed
        return diff

    def _decode(self, table: str, row: state.Row | None) -> dict[str, Any] | None:
        if row is None:
            return None
        layout = self._layouts[table]
        return {name: decode(value) for name, decode, value in zip(layout.names, layout.decoders, row, strict=True)}

    def query(self, sql: str, parameters: Mapping[str, Any] | tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run SQL over the domain's tables (same authorizer and budgets as tools) and undo whatever it wrote."""
        self._start_query()
        if _only_reads(sql):
            return self._connection.execute(sql, parameters).fetchall()
        with self._undone():
            return self._connection.execute(sql, parameters).fetchall()

    def records(self, sql: str, parameters: Mapping[str, Any] | tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Like `query`, each row as a dict keyed by column name."""
        self._start_query()
        if _only_reads(sql):
            return self._records(sql, parameters)
        with self._undone():
            return self._records(sql, parameters)

    def _records(self, sql: str, parameters: Mapping[str, Any] | tuple[Any, ...]) -> list[dict[str, Any]]:
        cursor = self._connection.execute(sql, parameters)
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    @contextmanager
    def _undone(self) -> Iterator[None]:
        """Whatever runs inside is rolled back: queries may read, never change the episode."""
        self._engine_sql("SAVEPOINT query")
        try:
            yield
        finally:
            self._engine_sql("ROLLBACK TO query")
            self._engine_sql("RELEASE query")

    def openai_tools(self) -> list[dict[str, Any]]:
        return [openai_tool(tool.spec) for tool in self.tools.values()]

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """End the episode: its changes are rolled back and its copy goes back to the pool."""
        if self._episode is not None:
            episode, self._episode = self._episode, None
            self._pool.check_in(episode)

    def __enter__(self) -> Environment:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def _only_reads(sql: str) -> bool:
    """A statement that starts with SELECT cannot write in SQLite, so it needs no savepoint to undo it."""
    return sql.lstrip()[:6].upper() == "SELECT"
