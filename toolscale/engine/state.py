"""Canonical database state: an order-independent hash built from per-row digests.

The state of a table is the multiset of its rows. Each row is serialized canonically (declared
column order, JSON with shortest round-trip floats, so 1 and 1.0 differ, JSON columns re-serialized
with sorted keys) and digested; a table's
digest sum is the sum of its row digests modulo 2**256 (an additive multiset hash). Row order,
rowids and insertion history do not enter it, and a change of k rows updates it in O(k).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence

SqlValue = int | float | str | bytes | None
Row = tuple[SqlValue, ...]

MODULUS = 1 << 256

# One encoder for every row: json.dumps with options builds a new one per call. SQLite stores no NaN
# (it becomes NULL) but does store infinities (9e999), which are spelled Infinity and -Infinity.
_ROW_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=True)


def row_digest(table: str, row: Sequence[SqlValue]) -> int:
    encoded = _ROW_ENCODER.encode([table, *row])
    return int.from_bytes(hashlib.blake2b(encoded.encode(), digest_size=32).digest(), "big")


def canonical_row(row: Sequence[SqlValue], json_columns: Sequence[int]) -> Row:
    """The row with its JSON columns re-serialized canonically.

    SQL's JSON functions and Python's json module space documents differently; without this the
    same document written by two paths would make two states that are equal look different.
    """
    if not json_columns:
        return tuple(row)
    values = list(row)
    for index in json_columns:
        value = values[index]
        if isinstance(value, str):
            # Not a JSON document (or one nested too deep to read): hashed as the text it is.
            with contextlib.suppress(ValueError, RecursionError):
                values[index] = json.dumps(json.loads(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return tuple(values)


def table_digest_sum(table: str, rows: Iterable[Sequence[SqlValue]], json_columns: Sequence[int] = ()) -> int:
    total = 0
    for row in rows:
        total += row_digest(table, canonical_row(row, json_columns))
    return total % MODULUS


def state_hash(digest_sums: Mapping[str, int]) -> str:
    """The hex SHA-256 of every table's digest sum, tables in name order."""
    # to_bytes().hex() spells a sum exactly as format(total, "064x") does, in two thirds of the time.
    lines = "".join([f"{table}:{digest_sums[table].to_bytes(32, 'big').hex()}\n" for table in sorted(digest_sums)])
    return hashlib.sha256(lines.encode()).hexdigest()
