"""A built domain database: its SQLite image, its state digests and its compiled tools.

The database is created through SQLAlchemy and kept as one serialized SQLite image in memory, so
forking an episode is a single `deserialize` of that image (a memory copy, no re-parse, no rebuild).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from toolscale.atomic import write_atomically
from toolscale.engine import state
from toolscale.engine.connection import ConnectionPool
from toolscale.engine.layout import DomainLayout, domain_layout
from toolscale.engine.schema import META_TABLE, change_log_triggers, json_columns, metadata_for
from toolscale.engine.tools import CompiledTool, compile_tools
from toolscale.errors import ToolScaleError
from toolscale.spec.models import Column, DomainSpec

if TYPE_CHECKING:
    from toolscale.engine.environment import Environment

_SQLITE_HEADER = b"SQLite format 3\x00"
_DIGEST_KEY = "digest_sum:"
_PROVENANCE_KEY = "provenance:"


class DatabaseError(ToolScaleError):
    """A database that cannot be built or loaded; the message names the file or table and the reason."""


def spec_fingerprint(spec: DomainSpec) -> str:
    return hashlib.sha256(spec.model_dump_json().encode()).hexdigest()


def encode_value(column: Column, value: Any) -> Any:
    """A Python value as stored in the column: booleans as 0/1, JSON as canonical text."""
    if value is None:
        return None
    if column.type == "boolean":
        return int(bool(value))
    if column.type == "json":
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


@dataclass(frozen=True)
class DomainDatabase:
    spec: DomainSpec
    image: bytes = field(repr=False)
    digest_sums: Mapping[str, int] = field(repr=False)
    # How the rows were made (populate's size and seed, ...), stored in the file beside the digests.
    provenance: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def tools(self) -> dict[str, CompiledTool]:
        return compile_tools(self.spec)

    @cached_property
    def layout(self) -> DomainLayout:
        return domain_layout(self.spec)

    @cached_property
    def initial_row_digests(self) -> dict[tuple[str, int], int]:
        """Digests of this database's rows by (table, rowid), filled in by the episodes that touch them: each
        episode starts from these rows, and digesting one costs more than looking it up."""
        return {}

    @cached_property
    def connections(self) -> ConnectionPool:
        """Copies of this database for episodes (see `toolscale.engine.connection`)."""
        return ConnectionPool(self.image, [table.name for table in self.spec.tables])

    def __reduce__(self) -> tuple[type[DomainDatabase], tuple[DomainSpec, bytes, Mapping[str, int], Mapping[str, str]]]:
        # Pickled (e.g. to a Ray worker) without its compiled tools and open connections.
        return (DomainDatabase, (self.spec, self.image, dict(self.digest_sums), dict(self.provenance)))

    @cached_property
    def state_hash(self) -> str:
        return state.state_hash(self.digest_sums)

    @classmethod
    def build(
        cls, spec: DomainSpec, rows: Mapping[str, Iterable[Mapping[str, Any]]], provenance: Mapping[str, str] | None = None
    ) -> DomainDatabase:
        """Create the spec's tables through SQLAlchemy and insert `rows` (table name -> row dicts)."""
        provenance = dict(provenance or {})
        unknown = sorted(set(rows) - {table.name for table in spec.tables})
        if unknown:
            raise DatabaseError(f"rows given for unknown table(s) {unknown} of domain {spec.name!r}")
        engine = sa.create_engine("sqlite://", poolclass=StaticPool)
        metadata = metadata_for(spec)
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql("PRAGMA foreign_keys = ON")
                metadata.create_all(connection)
                for table in spec.tables:
                    records = [_encode_row(table.name, table.columns, row) for row in rows.get(table.name, ())]
                    if records:
                        connection.execute(metadata.tables[table.name].insert(), records)
                digest_sums = _scan_digest_sums(connection, spec)
                meta = [{"key": _DIGEST_KEY + name, "value": f"{total:064x}"} for name, total in digest_sums.items()]
                meta.append({"key": "spec_fingerprint", "value": spec_fingerprint(spec)})
                meta += [{"key": _PROVENANCE_KEY + key, "value": value} for key, value in sorted(provenance.items())]
                connection.execute(metadata.tables[META_TABLE].insert(), meta)
                # Installed after the bulk insert, so the change log starts empty.
                for trigger in change_log_triggers(spec):
                    connection.exec_driver_sql(trigger)
            with engine.connect() as connection:
                connection.exec_driver_sql("VACUUM")
                raw = connection.connection.dbapi_connection
                assert isinstance(raw, sqlite3.Connection)
                image = raw.serialize()
        except sa.exc.IntegrityError as error:
            raise DatabaseError(f"rows of domain {spec.name!r} violate a constraint: {error.orig}") from error
        except (sa.exc.SQLAlchemyError, sqlite3.Error) as error:
            # A schema SQLite does not accept (a spec built without validation): the reason, not a traceback.
            reason = error.orig if isinstance(error, sa.exc.DBAPIError) else error
            raise DatabaseError(f"domain {spec.name!r}: cannot build its database: {reason}") from error
        finally:
            engine.dispose()
        return cls(spec=spec, image=image, digest_sums=digest_sums, provenance=provenance)

    @classmethod
    def load(cls, spec: DomainSpec, path: Path) -> DomainDatabase:
        """Open a database file written by `save`, checking it was built from this spec."""
        try:
            image = path.read_bytes()
        except OSError as error:
            raise DatabaseError(f"{path}: cannot read database file: {error.strerror}") from error
        if not image.startswith(_SQLITE_HEADER):
            raise DatabaseError(f"{path}: not a SQLite database file")
        connection = sqlite3.connect(":memory:")
        try:
            connection.deserialize(image)
            meta = dict(connection.execute(f"SELECT key, value FROM {META_TABLE}").fetchall())
        except sqlite3.Error as error:
            raise DatabaseError(f"{path}: not a ToolScale database ({error})") from error
        finally:
            connection.close()
        if meta.get("spec_fingerprint") != spec_fingerprint(spec):
            raise DatabaseError(
                f"{path}: built from another version of domain {spec.name!r}'s spec; rebuild it with `toolscale populate`"
            )
        digest_sums = {
            key.removeprefix(_DIGEST_KEY): int(value, 16) for key, value in meta.items() if key.startswith(_DIGEST_KEY)
        }
        provenance = {key.removeprefix(_PROVENANCE_KEY): value for key, value in meta.items() if key.startswith(_PROVENANCE_KEY)}
        return cls(spec=spec, image=image, digest_sums=digest_sums, provenance=provenance)

    def save(self, path: Path) -> None:
        """Write the database file atomically (a reader never sees half a file)."""
        write_atomically(path, self.image)

    def fork(self) -> Environment:
        """A fresh episode on its own copy of this database."""
        from toolscale.engine.environment import Environment

        return Environment(self)


def _encode_row(table: str, columns: list[Column], row: Mapping[str, Any]) -> dict[str, Any]:
    extra = sorted(set(row) - {column.name for column in columns})
    if extra:
        raise DatabaseError(f"table {table!r}: row has unknown column(s) {extra}: {dict(row)}")
    return {column.name: encode_value(column, row.get(column.name)) for column in columns}


def _scan_digest_sums(connection: sa.Connection, spec: DomainSpec) -> dict[str, int]:
    """The one full scan of a database, done when it is built; episodes update the sums incrementally."""
    sums = {}
    for table in spec.tables:
        columns = ", ".join(column.name for column in table.columns)
        rows = connection.exec_driver_sql(f"SELECT {columns} FROM {table.name}")
        sums[table.name] = state.table_digest_sum(table.name, rows, json_columns(table))
    return sums
