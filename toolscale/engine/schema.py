"""From a domain spec to SQL tables (through SQLAlchemy) and the engine's change-log triggers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa

from toolscale.spec.models import Column, ColumnType, DomainSpec, Table

# Tables the engine owns inside every domain database; spec names cannot start with '_'.
CHANGE_LOG = "_toolscale_log"
META_TABLE = "_toolscale_meta"
TRIGGER_PREFIX = "_toolscale_"

# Dates, datetimes and JSON are stored as TEXT: SQLite gives a declared DATE column NUMERIC
# affinity, which would turn a value like '2024' into an integer.
_SQL_TYPES: dict[ColumnType, type[sa.types.TypeEngine[Any]]] = {
    "text": sa.Text,
    "integer": sa.Integer,
    "real": sa.Float,
    "boolean": sa.Integer,
    "date": sa.Text,
    "datetime": sa.Text,
    "json": sa.Text,
}


def _sql_literal(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _column(column: Column) -> sa.Column[object]:
    constraints: list[sa.schema.SchemaItem] = []
    if column.references:
        constraints.append(sa.ForeignKey(column.references))
    if column.type == "boolean":
        constraints.append(sa.CheckConstraint(f"{column.name} IN (0, 1)", name=f"{column.name}_is_boolean"))
    if column.enum is not None:
        allowed = ", ".join(_sql_literal(value) for value in column.enum)
        constraints.append(sa.CheckConstraint(f"{column.name} IN ({allowed})", name=f"{column.name}_in_enum"))
    return sa.Column(
        column.name,
        _SQL_TYPES[column.type](),
        *constraints,
        primary_key=column.primary_key,
        nullable=column.nullable and not column.primary_key,
        unique=column.unique and not column.primary_key,
        # An INTEGER PRIMARY KEY is SQLite's rowid alias; AUTOINCREMENT would add a bookkeeping table.
        autoincrement=False,
    )


def _table(metadata: sa.MetaData, table: Table) -> sa.Table:
    checks = [sa.CheckConstraint(check.expression, name=check.name) for check in table.checks]
    created = sa.Table(table.name, metadata, *(_column(column) for column in table.columns), *checks)
    # Tools look rows up by their owner (accounts of a client, lines of an order): index every reference.
    # Created in declared order by DDL events: SQLAlchemy creates a table's `indexes` in set order,
    # which varies between builds and would make the database file's bytes vary with it.
    for column in table.columns:
        if column.references is not None and not column.primary_key:
            ddl = f"CREATE INDEX ix_{table.name}_{column.name} ON {table.name} ({column.name})"
            sa.event.listen(created, "after_create", _run_after_create(ddl))
    for number, expression in enumerate(table.indexes, start=1):
        ddl = f"CREATE INDEX ix_{table.name}_{number} ON {table.name} ({expression})"
        sa.event.listen(created, "after_create", _run_after_create(ddl))
    return created


def _run_after_create(ddl: str) -> Callable[..., None]:
    def run(_table: sa.Table, connection: sa.Connection, **_: Any) -> None:
        connection.exec_driver_sql(ddl)

    return run


def metadata_for(spec: DomainSpec) -> sa.MetaData:
    """SQLAlchemy metadata of the spec's tables plus the engine's own bookkeeping tables."""
    metadata = sa.MetaData()
    for table in spec.tables:
        _table(metadata, table)
    width = change_log_width(spec)
    # BLOB columns have no type affinity in SQLite: each logged value keeps its storage class.
    # v0.. hold a row's values before the statement, n0.. after it.
    sa.Table(
        CHANGE_LOG,
        metadata,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("tbl", sa.Text, nullable=False),
        sa.Column("old_rowid", sa.Integer),
        sa.Column("new_rowid", sa.Integer),
        *(sa.Column(f"v{i}", sa.LargeBinary) for i in range(width)),
        *(sa.Column(f"n{i}", sa.LargeBinary) for i in range(width)),
    )
    sa.Table(
        META_TABLE,
        metadata,
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    return metadata


def change_log_width(spec: DomainSpec) -> int:
    """Values the change log holds per image (before, after): the widest table's column count."""
    return max(len(table.columns) for table in spec.tables)


def change_log_triggers(spec: DomainSpec) -> Iterator[str]:
    """Triggers that record every row a statement inserts, updates or deletes, with its values before
    and after.

    They let the Environment keep the state hash and diff up to date from the rows a call touched,
    never from a scan of the database (nor a re-read of the rows).
    """
    for table in spec.tables:
        names = [column.name for column in table.columns]
        old_columns = ", ".join(f"v{i}" for i in range(len(names)))
        new_columns = ", ".join(f"n{i}" for i in range(len(names)))
        old_values = ", ".join(f"OLD.{name}" for name in names)
        new_values = ", ".join(f"NEW.{name}" for name in names)
        log = f"INSERT INTO {CHANGE_LOG} (tbl, old_rowid, new_rowid"
        yield (
            f"CREATE TRIGGER {TRIGGER_PREFIX}{table.name}_insert AFTER INSERT ON {table.name} "
            f"BEGIN {log}, {new_columns}) VALUES ('{table.name}', NULL, NEW.rowid, {new_values}); END"
        )
        yield (
            f"CREATE TRIGGER {TRIGGER_PREFIX}{table.name}_update AFTER UPDATE ON {table.name} "
            f"BEGIN {log}, {old_columns}, {new_columns}) "
            f"VALUES ('{table.name}', OLD.rowid, NEW.rowid, {old_values}, {new_values}); END"
        )
        yield (
            f"CREATE TRIGGER {TRIGGER_PREFIX}{table.name}_delete AFTER DELETE ON {table.name} "
            f"BEGIN {log}, {old_columns}) VALUES ('{table.name}', OLD.rowid, NULL, {old_values}); END"
        )


def json_columns(table: Table) -> tuple[int, ...]:
    """Positions of the table's JSON columns, which the state hash reads as documents, not text."""
    return tuple(index for index, column in enumerate(table.columns) if column.type == "json")
