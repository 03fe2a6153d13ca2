"""Semantic checks of a spec that its shape cannot express.

Every SQL statement is compiled against the declared schema in an empty in-memory database, under
an authorizer that records what the statement reads and writes; nothing of the spec is executed
beyond the result queries, which run on empty tables to learn their column names.
"""

from __future__ import annotations

import re
import sqlite3
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from toolscale.domain.population import check_population
from toolscale.engine.authorizer import FORBIDDEN_FUNCTIONS, JSON_TABLE_FUNCTIONS, statement_refusal
from toolscale.engine.builtins import CLOCK_WORDS, TIME_FUNCTIONS, clock_signatures
from toolscale.engine.functions import register_functions
from toolscale.engine.limits import StepBudget, apply_length_limits
from toolscale.engine.schema import metadata_for
from toolscale.engine.tools import column_types_by_name
from toolscale.spec.models import Column, DomainSpec, Result, Table, Tool

Location = tuple[str | int, ...]
Problem = tuple[Location, str]

CLOCK_PARAMETERS = frozenset({"now", "today"})
_READ_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
_WRITE_ACTIONS = {sqlite3.SQLITE_INSERT: "INSERT", sqlite3.SQLITE_UPDATE: "UPDATE", sqlite3.SQLITE_DELETE: "DELETE"}
# How EXPLAIN shows a call of a time function (its registered arity in parentheses).
_TIME_FUNCTION_CALL = re.compile(rf"({'|'.join(TIME_FUNCTIONS)})\(-?\d+\)")
_CLOCK_SIGNATURES = clock_signatures()
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# A statement whose conflicts may be resolved by deleting rows (read as text: a literal that says it too only
# makes the answer more careful).
_MAY_REPLACE = re.compile(r"\bREPLACE\s+INTO\b|\bOR\s+REPLACE\b", re.IGNORECASE)


class _RecordedParameters(dict[str, Any]):
    """Binds NULL to every named parameter and remembers the names SQLite asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def __missing__(self, key: str) -> None:
        self.names.append(key)
        return None


@dataclass
class _Compiled:
    reads: set[str] = field(default_factory=set)
    writes: dict[str, set[str]] = field(default_factory=dict)  # table -> {"INSERT", ...}
    updated: dict[str, set[str]] = field(default_factory=dict)  # table -> the columns an UPDATE sets
    other: list[str] = field(default_factory=list)
    parameters: list[str] = field(default_factory=list)
    columns: tuple[str, ...] = ()
    error: str | None = None


class _Compiler:
    """Compiles statements against the spec's empty schema and records what they touch."""

    def __init__(self, spec: DomainSpec) -> None:
        self.tables = {table.name for table in spec.tables}
        # Statement caching off: the authorizer only sees statements SQLite prepares, and a cached
        # statement is not prepared again.
        self._engine = sa.create_engine("sqlite://", poolclass=StaticPool, connect_args={"cached_statements": 0})
        with self._engine.begin() as connection:
            metadata_for(spec).create_all(connection)
            raw = connection.connection.dbapi_connection
        assert isinstance(raw, sqlite3.Connection)
        self._connection: sqlite3.Connection = raw
        register_functions(self._connection, self._refuse)
        self._connection.execute("SELECT 1 FROM json_each('[]'), json_tree('[]')").fetchall()
        # Result and fail_if queries run (on empty tables): under the engine's own limits and budgets.
        apply_length_limits(self._connection)
        self._budget: StepBudget = StepBudget(self._refuse)
        self._budget.install(self._connection)
        self._recording: _Compiled | None = None
        self._connection.set_authorizer(self._record)

    def _refuse(self, reason: str) -> None:
        if self._recording is not None:
            self._recording.other.append(reason)

    def _record(self, action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
        compiled = self._recording
        if compiled is None:
            return sqlite3.SQLITE_OK
        if action in _WRITE_ACTIONS and arg1 is not None:
            compiled.writes.setdefault(arg1, set()).add(_WRITE_ACTIONS[action])
            if action == sqlite3.SQLITE_UPDATE and arg2 is not None:
                compiled.updated.setdefault(arg1, set()).add(arg2)
        elif action == sqlite3.SQLITE_READ and arg1 is not None:
            compiled.reads.add(arg1)
        elif action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in FORBIDDEN_FUNCTIONS:
            compiled.other.append(f"function {arg2}() is not allowed")
        elif action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() == "datetime":
            # datetime() writes 'YYYY-MM-DD HH:MM:SS'; stored datetimes and :now are ISO with a 'T', and
            # the two compare wrongly as text on the same day.
            compiled.other.append(
                "datetime() returns 'YYYY-MM-DD HH:MM:SS', unlike the ISO datetimes stored and bound as :now; "
                "use strftime('%Y-%m-%dT%H:%M:%S', ...)"
            )
        elif action not in _READ_ACTIONS:
            refusal = statement_refusal(action, arg1)
            if refusal not in compiled.other:
                compiled.other.append(refusal)
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    def compile(self, sql: str, *, run_for_columns: bool = False) -> _Compiled:
        compiled = _Compiled()
        parameters = _RecordedParameters()
        self._recording = compiled
        self._budget.start_call()
        try:
            program = self._connection.execute("EXPLAIN " + sql, parameters).fetchall()
            compiled.parameters = list(dict.fromkeys(parameters.names))
            compiled.other += _clock_reads(program)
            if run_for_columns and not compiled.writes and not compiled.other:
                cursor = self._connection.execute(sql, _RecordedParameters())
                compiled.columns = tuple(column[0] for column in cursor.description or ())
                cursor.fetchall()
        except (sqlite3.Error, sqlite3.Warning) as error:
            compiled.error = str(error)
        finally:
            self._recording = None
        return compiled

    def close(self) -> None:
        self._connection.close()
        self._engine.dispose()


def _clock_reads(program: list[tuple[Any, ...]]) -> list[str]:
    """Wall-clock reads visible in a compiled program (EXPLAIN rows: addr, opcode, p1, p2, p3, p4, ...):
    a time function without a time value, or given 'now', 'localtime' or 'utc' as a constant. Values
    computed at run time ('n' || 'ow', a parameter) are refused by the time functions themselves."""
    calls = [str(row[5]) for row in program if row[1] in ("Function", "PureFunc") and row[5] is not None]
    reads = [
        f"{call.split('(')[0]}() without a time value reads the wall clock; use the :now or :today parameter"
        for call in calls
        if call in _CLOCK_SIGNATURES
    ]
    if any(_TIME_FUNCTION_CALL.fullmatch(call) for call in calls):
        words = sorted({str(row[5]).strip().lower() for row in program if row[1] == "String8" and isinstance(row[5], str)})
        reads += [
            f"{word!r} reads the wall clock or the machine's time zone; use the :now or :today parameter"
            for word in words
            if word in CLOCK_WORDS
        ]
    return reads


def _bare_compiler(spec: DomainSpec) -> _Compiler:
    """A compiler over the spec's tables without their checks and indexes: those are compiled one by
    one, so one broken expression does not hide every other problem."""
    bare_tables = [table.model_copy(update={"checks": [], "indexes": []}) for table in spec.tables]
    return _Compiler(spec.model_copy(update={"tables": bare_tables}))


def changeable_columns(spec: DomainSpec) -> dict[str, frozenset[tuple[str, str | None]]]:
    """What each write tool's effects can change, whatever its arguments: (table, column) for a column an
    UPDATE sets, (table, None) for a table whose rows it inserts or deletes (every column), or may replace.

    Taken from SQLite's authorizer as the effects compile, so a column an upsert or a subquery sets counts
    too. The authorizer does not report the rows a REPLACE conflict deletes, so a statement that can
    replace (`INSERT OR REPLACE`, `REPLACE INTO`, `UPDATE OR REPLACE`) can change every column of the
    tables it writes. An effect that does not compile could change anything. (Specs declare no triggers
    and no foreign-key actions, which would change rows no statement names.)"""
    compiler = _bare_compiler(spec)
    everything = frozenset((table.name, None) for table in spec.tables)
    found: dict[str, frozenset[tuple[str, str | None]]] = {}
    try:
        for tool in spec.tools:
            if tool.kind != "write":
                continue
            cells: set[tuple[str, str | None]] = set()
            for effect in tool.effects:
                compiled = compiler.compile(effect)
                if compiled.error is not None or compiled.other:
                    cells = set(everything)
                    break
                replaces = _MAY_REPLACE.search(effect) is not None
                for table, actions in compiled.writes.items():
                    if replaces or actions & {"INSERT", "DELETE"} or not compiled.updated.get(table):
                        cells.add((table, None))
                    cells.update((table, column) for column in compiled.updated.get(table, ()))
            found[tool.name] = frozenset(cells)
    finally:
        compiler.close()
    return found


def check_spec(spec: DomainSpec) -> list[Problem]:
    """Every semantic problem of a shape-valid spec, each with its location inside the spec."""
    problems = list(_check_names(spec))
    problems += _check_tables(spec)
    problems += _check_caller(spec)
    problems += check_population(spec)
    if problems:
        # Statements cannot be compiled against a schema that is itself broken.
        return problems
    compiler = _bare_compiler(spec)
    try:
        for index, table in enumerate(spec.tables):
            problems += _check_table_checks(compiler, table, ("tables", index))
            problems += _check_table_indexes(compiler, table, ("tables", index))
            problems += _check_derive(compiler, table, ("tables", index))
        types_by_name = column_types_by_name(spec)
        for index, tool in enumerate(spec.tools):
            problems += _check_tool(compiler, spec, tool, ("tools", index), types_by_name)
        for index, invariant in enumerate(spec.invariants):
            compiled = compiler.compile(invariant.query)
            where: Location = ("invariants", index, "query")
            problems += _statement_problems(compiled, where, "query", set(CLOCK_PARAMETERS), compiler.tables)
    finally:
        compiler.close()
    return problems


def _duplicates(names: list[str]) -> set[str]:
    return {name for name in names if names.count(name) > 1}


def _check_names(spec: DomainSpec) -> Iterator[Problem]:
    for name in _duplicates([table.name for table in spec.tables]):
        yield ("tables",), f"table {name!r} is declared more than once"
    for name in _duplicates([tool.name for tool in spec.tools]):
        yield ("tools",), f"tool {name!r} is declared more than once"
    for name in _duplicates([invariant.name for invariant in spec.invariants]):
        yield ("invariants",), f"invariant {name!r} is declared more than once"
    check_names = [check.name for table in spec.tables for check in table.checks]
    for name in _duplicates(check_names):
        yield ("tables",), f"check {name!r} is declared more than once (check names are unique per domain)"
    for index, table in enumerate(spec.tables):
        for name in _duplicates([column.name for column in table.columns]):
            yield ("tables", index, "columns"), f"column {name!r} is declared more than once in table {table.name!r}"


def _enum_value_fits(column: Column, value: object) -> bool:
    if column.type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if column.type == "real":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if column.type == "boolean":
        return isinstance(value, bool)
    return isinstance(value, str)


def _check_tables(spec: DomainSpec) -> Iterator[Problem]:
    for index, table in enumerate(spec.tables):
        keys = [column.name for column in table.columns if column.primary_key]
        if len(keys) != 1:
            yield ("tables", index, "columns"), f"table {table.name!r} needs exactly one primary key column, has {len(keys)}"
        for column_index, column in enumerate(table.columns):
            where: Location = ("tables", index, "columns", column_index)
            if column.enum is not None:
                for value_index, value in enumerate(column.enum):
                    if not _enum_value_fits(column, value):
                        yield (*where, "enum", value_index), f"value {value!r} does not fit column type {column.type!r}"
            if column.references is None:
                continue
            target_table, target_column = column.references.split(".")
            target = spec.table(target_table)
            referenced = target.column(target_column) if target else None
            if target is None:
                yield (*where, "references"), f"references unknown table {target_table!r}"
            elif referenced is None:
                yield (*where, "references"), f"references unknown column {target_column!r} of table {target_table!r}"
            elif not (referenced.primary_key or referenced.unique):
                yield (*where, "references"), f"references {column.references}, which is neither a primary key nor unique"
            elif referenced.type != column.type:
                yield (*where, "references"), f"type {column.type!r} differs from {column.references}'s type {referenced.type!r}"


def _check_caller(spec: DomainSpec) -> Iterator[Problem]:
    table = spec.table(spec.caller.table)
    if table is None:
        yield ("caller", "table"), f"unknown table {spec.caller.table!r}"
        return
    for index, name in enumerate(spec.caller.known):
        if table.column(name) is None:
            yield ("caller", "known", index), f"table {table.name!r} has no column {name!r}"


def _check_table_indexes(compiler: _Compiler, table: Table, where: Location) -> Iterator[Problem]:
    for index, expression in enumerate(table.indexes):
        location = (*where, "indexes", index)
        shape = expression_problem(expression)
        if shape is not None:
            yield location, shape
            continue
        compiled = compiler.compile(f"SELECT {expression} FROM {table.name}")
        if compiled.error:
            yield location, f"does not compile: {compiled.error}"
        elif compiled.other or compiled.parameters or compiled.reads - {table.name}:
            yield location, "must be columns or expressions over this table's own columns"


def expression_problem(expression: str) -> str | None:
    """Why `expression` is not one SQL expression on its own, or None.

    A check or index expression is spliced into DDL inside parentheses; `1) OR (1` compiles there but is
    two expressions, and a comment or a ';' would hide or end the rest of the statement. Quotes are
    followed as SQLite reads them ('...', "...", `...`, [...]) so parentheses inside them do not count.
    """
    closing = {"'": "'", '"': '"', "`": "`", "[": "]"}
    depth, position = 0, 0
    while position < len(expression):
        character = expression[position]
        if character in closing:
            end = expression.find(closing[character], position + 1)
            if end < 0:
                return f"unterminated quote {character} at character {position + 1}"
            position = end + 1
            continue
        if expression.startswith(("--", "/*"), position):
            return "comments are not allowed in an expression"
        if character == ";":
            return "';' is not allowed in an expression"
        depth += {"(": 1, ")": -1}.get(character, 0)
        if depth < 0:
            return f"unbalanced ')' at character {position + 1}: the text must be one expression"
        position += 1
    return f"{depth} unclosed '('" if depth else None


def _check_table_checks(compiler: _Compiler, table: Table, where: Location) -> Iterator[Problem]:
    for index, check in enumerate(table.checks):
        location = (*where, "checks", index, "expression")
        shape = expression_problem(check.expression)
        if shape is not None:
            yield location, shape
            continue
        compiled = compiler.compile(f"SELECT 1 FROM {table.name} WHERE ({check.expression})")
        if compiled.error:
            yield location, f"does not compile: {compiled.error}"
        elif compiled.other or compiled.parameters:
            yield location, "must be a plain expression over the table's columns"
        elif compiled.reads - {table.name}:
            yield location, f"reads other tables {sorted(compiled.reads - {table.name})}; a CHECK sees only its own row"


def _check_derive(compiler: _Compiler, table: Table, where: Location) -> Iterator[Problem]:
    """A consistency rule may update only its own table (reading any), with no parameter but the clock."""
    for index, statement in enumerate(table.derive):
        compiled = compiler.compile(statement)
        location = (*where, "derive", index)
        if compiled.error is not None:
            yield location, f"does not compile against the schema: {compiled.error}"
        elif compiled.other:
            yield from ((location, refusal) for refusal in compiled.other)
        elif compiled.writes != {table.name: {"UPDATE"}}:
            yield location, f"must be an UPDATE of table {table.name!r} only, writes {sorted(compiled.writes)}"
        elif set(compiled.parameters) - CLOCK_PARAMETERS:
            yield location, f"may use only :now and :today, uses {sorted(set(compiled.parameters) - CLOCK_PARAMETERS)}"


def _placeholders(template: str) -> list[str]:
    return [match.group(1) for match in _PLACEHOLDER.finditer(template)]


def _check_tool(
    compiler: _Compiler, spec: DomainSpec, tool: Tool, where: Location, types_by_name: dict[str, set[Any]]
) -> Iterator[Problem]:
    declared = set(tool.parameters.properties)
    for index, name in enumerate(tool.parameters.required):
        if name not in declared:
            yield (*where, "parameters", "required", index), f"required parameter {name!r} is not declared in properties"
    if tool.kind == "read" and tool.effects:
        yield (*where, "effects"), f"read tool {tool.name!r} must not have effects"
    if tool.kind == "read" and tool.generated_ids:
        yield (*where, "generated_ids"), f"read tool {tool.name!r} cannot generate ids"
    if tool.kind == "write" and not tool.effects:
        yield (*where, "effects"), f"write tool {tool.name!r} needs at least one effect"
    if tool.result is None:
        yield (*where, "result"), f"tool {tool.name!r} needs a result query (what the agent is told)"

    generated = set(tool.generated_ids)
    for name, generated_id in tool.generated_ids.items():
        location = (*where, "generated_ids", name)
        if name in declared:
            yield location, f"{name!r} is both a parameter and a generated id"
        if spec.table(generated_id.table) is None:
            yield (*location, "table"), f"unknown table {generated_id.table!r}"
        fields = [parsed[1] for parsed in string.Formatter().parse(generated_id.pattern) if parsed[1] is not None]
        if fields != ["seq"]:
            yield (*location, "pattern"), f"pattern must use {{seq}} exactly once and nothing else, uses {fields}"

    used: set[str] = set()
    derived: set[str] = set()
    for name, query in tool.derived.items():
        location = (*where, "derived", name)
        if name in declared or name in generated or name in CLOCK_PARAMETERS:
            yield location, f"derived value {name!r} clashes with a parameter or generated id of the same name"
        compiled = compiler.compile(query)
        used.update(compiled.parameters)
        yield from _statement_problems(
            compiled, location, "derived value", declared | CLOCK_PARAMETERS | derived, compiler.tables
        )
        derived.add(name)
    fail_if_columns: dict[int, tuple[str, ...]] = {}
    for index, precondition in enumerate(tool.preconditions):
        key = "query" if precondition.query is not None else "fail_if"
        sql = precondition.query if precondition.query is not None else precondition.fail_if
        assert sql is not None
        compiled = compiler.compile(sql, run_for_columns=key == "fail_if")
        used.update(compiled.parameters)
        allowed = declared | CLOCK_PARAMETERS | derived
        yield from _statement_problems(compiled, (*where, "preconditions", index, key), "query", allowed, compiler.tables)
        fail_if_columns[index] = compiled.columns
    for index, effect in enumerate(tool.effects):
        compiled = compiler.compile(effect)
        used.update(compiled.parameters)
        allowed = declared | CLOCK_PARAMETERS | generated | derived
        yield from _statement_problems(compiled, (*where, "effects", index), "effect", allowed, compiler.tables)
    if tool.result is not None:
        allowed = declared | CLOCK_PARAMETERS | generated | derived
        yield from _check_result(compiler, tool.result, (*where, "result"), allowed, types_by_name, used)

    for name in sorted(declared - used):
        yield (*where, "parameters", "properties", name), f"parameter {name!r} is declared but no SQL statement uses it"
    for name in sorted(generated - used):
        yield (*where, "generated_ids", name), f"generated id {name!r} is never used"
    for index, precondition in enumerate(tool.preconditions):
        known = declared | set(fail_if_columns.get(index, ()))
        what = "a parameter" if precondition.query is not None else "a parameter nor a column of the fail_if query"
        for placeholder in _placeholders(precondition.error):
            if placeholder not in known:
                yield (*where, "preconditions", index, "error"), f"placeholder {{{placeholder}}} is not {what} of {tool.name!r}"


def _check_result(
    compiler: _Compiler,
    result: Result,
    where: Location,
    allowed: set[str],
    types_by_name: dict[str, set[Any]],
    used: set[str],
) -> Iterator[Problem]:
    """A result query and, recursively, its children (which may also bind the row's columns)."""
    location = (*where, "query")
    compiled = compiler.compile(result.query, run_for_columns=True)
    used.update(compiled.parameters)
    yield from _statement_problems(compiled, location, "result", allowed, compiler.tables)
    if compiled.error is not None:
        return
    columns = compiled.columns
    for column in columns:
        if len(types_by_name.get(column, ())) > 1 and column not in result.types:
            yield location, f"result column {column!r} has different types in different tables; declare it in result.types"
    if result.shape == "value_map" and len(columns) != 2:
        yield location, f"shape 'value_map' needs exactly 2 columns (key, value), has {len(columns)}"
    if result.shape == "map" and len(columns) < 2:
        yield location, f"shape 'map' needs a key column and at least one value column, has {len(columns)}"
    nested: list[str] = []
    for key, members in result.nest.items():
        if not members:
            yield (*where, "nest", key), "needs at least one column"
        for member in members:
            if member not in columns:
                yield (*where, "nest", key), f"column {member!r} is not a column of the result query"
        nested += members
    for member in sorted({name for name in nested if nested.count(name) > 1}):
        yield (*where, "nest"), f"column {member!r} is nested more than once"
    for key, child in result.children.items():
        if key not in columns:
            yield (*where, "children", key), f"{key!r} is not a column of the result query (a child replaces a column)"
        yield from _check_result(compiler, child, (*where, "children", key), allowed | set(columns), types_by_name, used)


def _statement_problems(
    compiled: _Compiled, location: Location, role: str, allowed: set[str], tables: set[str]
) -> Iterator[Problem]:
    if compiled.other:
        for refusal in compiled.other:
            yield location, refusal
        return
    if compiled.error is not None:
        yield location, f"does not compile against the schema: {compiled.error}"
        return
    foreign = (compiled.reads - tables - JSON_TABLE_FUNCTIONS) | (set(compiled.writes) - tables)
    if foreign:
        yield location, f"touches tables that are not the domain's: {sorted(foreign)}"
    if role == "effect" and not compiled.writes:
        yield location, "an effect must be an INSERT, UPDATE or DELETE"
    if role != "effect" and compiled.writes:
        yield location, f"a {role} must only read, but it writes {sorted(compiled.writes)}"
    for name in compiled.parameters:
        if name not in allowed:
            yield location, f"uses parameter :{name}, which is not declared for this statement"


def query_problems(spec: DomainSpec, queries: Sequence[tuple[Location, str]], parameters: set[str]) -> list[Problem]:
    """Problems of read-only queries written against a spec elsewhere (e.g. a task grammar's candidate
    queries): each must compile, only read the domain's tables and use only `parameters`."""
    compiler = _bare_compiler(spec)
    try:
        return [
            problem
            for location, sql in queries
            for problem in _statement_problems(compiler.compile(sql), location, "query", parameters, compiler.tables)
        ]
    finally:
        compiler.close()
