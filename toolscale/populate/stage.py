"""Populate: spec + size + seed -> a DomainDatabase, with no per-domain code.

Tables are generated in declared order (parents come first), each column in bulk. The rows are then
staged in SQLite, where the tables' `derive` rules run and every declared constraint (CHECK, UNIQUE,
foreign keys) is enforced; the spec's `invariants` must then find no row breaking them, and the
result is built into the engine's database.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool
from tqdm import tqdm

from toolscale.engine.database import DatabaseError, DomainDatabase, encode_value
from toolscale.engine.schema import metadata_for
from toolscale.populate.values import PopulateError, children_counts, column_seed, column_values
from toolscale.spec.generators import LookupGenerator, ReferenceGenerator
from toolscale.spec.models import DomainSpec, Table, is_populated

Rows = dict[str, list[dict[str, Any]]]


def default_size(spec: DomainSpec) -> int:
    """The caller table's declared `rows`: the size `make populate` uses."""
    caller = spec.table(spec.caller.table)
    if caller is None or not caller.rows or not is_populated(spec):
        raise PopulateError(
            f"domain {spec.name!r} declares no generators or no `rows` for its caller table; it cannot be populated"
        )
    return caller.rows


def table_rows(spec: DomainSpec, table: Table, size: int) -> int | None:
    """Rows of a table with `rows` at this size: the caller table has `size` rows, the others scale with it.

    A table with fixed `data` has those rows at every size; a table driven by a reference has no count yet.
    """
    if table.data is not None:
        return len(table.data)
    if table.rows is None:
        return None
    if table.name == spec.caller.table:
        return size
    unit = default_size(spec)
    scaled = (2 * table.rows * size + unit) // (2 * unit)  # rounded half up, in integers
    return max(scaled, 1) if table.rows and size else scaled


def generate_rows(spec: DomainSpec, size: int, seed: int, *, progress: bool = False) -> Rows:
    """Every table's rows, in insertion order, before the consistency rules run."""
    if size < 0:
        raise PopulateError(f"size must be at least 0, not {size}")
    default_size(spec)
    columns_total = sum(len(table.columns) for table in spec.tables)
    values: dict[tuple[str, str], list[Any]] = {}
    rows: Rows = {}
    with tqdm(total=columns_total, desc=f"populate {spec.name}", unit="col", disable=not progress, leave=False) as bar:
        for table in spec.tables:
            bar.set_postfix_str(table.name)
            table_values = _generate_table(spec, table, size, seed, values)
            for name, column in table_values.items():
                values[(table.name, name)] = column
            bar.update(len(table.columns))
            names = [column.name for column in table.columns]
            rows[table.name] = [dict(zip(names, row, strict=True)) for row in zip(*(table_values[n] for n in names), strict=True)]
    return rows


def _generate_table(
    spec: DomainSpec, table: Table, size: int, seed: int, done: Mapping[tuple[str, str], list[Any]]
) -> dict[str, list[Any]]:
    if table.data is not None:
        return _fixed_table(spec, table, done)
    generated: dict[str, list[Any]] = {}
    count = table_rows(spec, table, size)
    for column in table.columns:
        generator = column.generator
        if isinstance(generator, ReferenceGenerator) and not generator.pick:
            parents = _parents(column.references, done)
            rng = random.Random(column_seed(seed, table.name, column.name))
            counts = children_counts(generator, len(parents), rng)
            generated[column.name] = [parent for parent, n in zip(parents, counts, strict=True) for _ in range(n)]
            count = len(generated[column.name])
    assert count is not None, f"table {table.name!r}: checked by the spec: `rows` or one driving reference"
    lookups = [column for column in table.columns if isinstance(column.generator, LookupGenerator)]
    for column in table.columns:
        if column.name in generated or column in lookups:
            continue
        column_rng_seed = column_seed(seed, table.name, column.name)
        generated[column.name] = column_values(
            column,
            count,
            random.Random(column_rng_seed),
            column_rng_seed,
            spec.clock,
            _parents(column.references, done),
            where=f"domain {spec.name!r}, column {table.name}.{column.name}",
        )
    for column in lookups:
        assert isinstance(column.generator, LookupGenerator)
        via = table.column(column.generator.via)
        assert via is not None, "checked by the spec"
        assert via.references is not None, "checked by the spec"
        parent_table, parent_key = via.references.split(".")
        source = dict(zip(done[(parent_table, parent_key)], done[(parent_table, column.generator.column)], strict=True))
        generated[column.name] = [source.get(key) for key in generated[via.name]]
    return generated


def _fixed_table(spec: DomainSpec, table: Table, done: Mapping[tuple[str, str], list[Any]]) -> dict[str, list[Any]]:
    """A catalogue's `data` rows as given, once each of their references is known to resolve."""
    assert table.data is not None
    for column in table.columns:
        if column.references is None:
            continue
        # The spec checks keys of other catalogues; a generated table's keys exist only now, and depend on the size.
        keys = set(_parents(column.references, done))
        for index, row in enumerate(table.data):
            value = row.get(column.name)
            if value is not None and value not in keys:
                raise PopulateError(
                    f"domain {spec.name!r}, {table.name}.data[{index}].{column.name}: {value!r} is not a generated "
                    f"{column.references} at this size"
                )
    return {column.name: [row.get(column.name) for row in table.data] for column in table.columns}


def _parents(references: str | None, done: Mapping[tuple[str, str], list[Any]]) -> list[Any]:
    if references is None:
        return []
    table, column = references.split(".")
    return done[(table, column)]


def apply_rules(spec: DomainSpec, rows: Rows) -> Rows:
    """Stage the rows in SQLite, run the `derive` rules, enforce every constraint, and read the rows back."""
    engine = sa.create_engine("sqlite://", poolclass=StaticPool)
    try:
        with engine.begin() as connection:
            metadata_for(spec).create_all(connection)
        raw = engine.raw_connection().driver_connection
        assert isinstance(raw, sqlite3.Connection)
        raw.execute("PRAGMA foreign_keys = ON")
        for table in spec.tables:
            names = [column.name for column in table.columns]
            records = [tuple(encode_value(c, row[c.name]) for c in table.columns) for row in rows[table.name]]
            _run(
                spec,
                table.name,
                raw.executemany,
                f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                records,
            )
        clock = {"now": spec.clock.isoformat(), "today": spec.clock.date().isoformat()}
        for table in spec.tables:
            for index, statement in enumerate(table.derive):
                _run(spec, f"{table.name}.derive[{index}]", raw.execute, statement, clock)
        _check_invariants(spec, raw, clock)
        return {table.name: _read_back(raw, table) for table in spec.tables}
    finally:
        engine.dispose()


def _run(spec: DomainSpec, where: str, execute: Any, sql: str, parameters: Any) -> None:
    try:
        execute(sql, parameters)
    except sqlite3.IntegrityError as error:
        message = str(error)
        check = message.removeprefix("CHECK constraint failed: ")
        explained = next((c.message for t in spec.tables for c in t.checks if c.name == check), None)
        reason = f"{message} ({explained})" if explained else message
        raise PopulateError(f"domain {spec.name!r}, {where}: generated rows violate a constraint: {reason}") from error


def _check_invariants(spec: DomainSpec, connection: sqlite3.Connection, clock: Mapping[str, str]) -> None:
    """The domain's own rules hold on the populated rows: each invariant's query finds no row breaking it."""
    for index, invariant in enumerate(spec.invariants):
        cursor = connection.execute(invariant.query, clock)
        breaking = cursor.fetchone()
        if breaking is not None:
            row = dict(zip((column[0] for column in cursor.description), breaking, strict=True))
            raise PopulateError(
                f"domain {spec.name!r}, invariants[{index}] ({invariant.name}): populated rows break the rule "
                f"{invariant.description!r}, e.g. {row}"
            )


def _read_back(connection: sqlite3.Connection, table: Table) -> list[dict[str, Any]]:
    names = [column.name for column in table.columns]
    json_columns = [column.name for column in table.columns if column.type == "json"]
    rows = [
        dict(zip(names, row, strict=True))
        for row in connection.execute(f"SELECT {', '.join(names)} FROM {table.name} ORDER BY rowid")
    ]
    for row in rows:
        for name in json_columns:
            if row[name] is not None:
                row[name] = json.loads(row[name])
    return rows


def populate(spec: DomainSpec, size: int, seed: int, *, progress: bool = False) -> DomainDatabase:
    """The domain's database at this size: same spec, size and seed, same bytes."""
    rows = apply_rules(spec, generate_rows(spec, size, seed, progress=progress))
    try:
        return DomainDatabase.build(spec, rows, {"size": str(size), "seed": str(seed)})
    except DatabaseError as error:
        raise PopulateError(str(error)) from error
