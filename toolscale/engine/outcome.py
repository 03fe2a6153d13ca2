"""Outcomes that do not depend on the order of independent writes: generated ids named by their content.

A tool's `generated_ids` take the next number of their table, so two independent writes made in the
other order swap their ids (two payments, TXN-…501 and TXN-…502) and the state hash differs although
the same rows were written. The outcome hash is the state hash with every id generated during the
episode replaced, wherever a touched row holds it, by a name made from content: first the table it was
generated for, then refined by the rows that hold it (their table, the column it sits in, their other
values, the current names of the other generated ids they hold) until the names stop splitting (colour
refinement). Two states whose rows are equal once generated ids are renamed one-to-one have equal
outcome hashes, whatever the order of the writes; ids with indistinguishable content get one name,
which is right: their rows are then interchangeable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

from toolscale.engine import state

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
GENERATED_PREFIX = "generated:"  # what a generated id becomes in the outcome's rows


def _digest(value: object) -> str:
    return hashlib.blake2b(_ENCODER.encode(value).encode(), digest_size=16).hexdigest()


def canonical_names(rows: Iterable[tuple[str, state.Row]], generated: Mapping[str, str]) -> dict[str, str]:
    """A content name for each generated id (id -> its table) that `rows` (table, row) hold."""
    holding = [(table, row) for table, row in rows if any(isinstance(cell, str) and cell in generated for cell in row)]
    names = {cell: generated[cell] for _, row in holding for cell in row if isinstance(cell, str) and cell in generated}
    classes = len(set(names.values()))
    while True:
        # A row's signature shows each generated id as [its current name]: a list never equals a scalar cell.
        signatures: dict[str, list[str]] = {name: [] for name in names}
        for table, row in holding:
            shown = [[names[cell]] if isinstance(cell, str) and cell in names else cell for cell in row]
            for position, cell in enumerate(row):
                if isinstance(cell, str) and cell in names:
                    signatures[cell].append(_digest([table, position, shown]))
        refined = {name: _digest([names[name], sorted(found)]) for name, found in signatures.items()}
        refined_classes = len(set(refined.values()))
        names = refined
        if refined_classes == classes:  # refinement only ever splits classes: no split, no change to come
            return names
        classes = refined_classes


def renamed(row: state.Row, names: Mapping[str, str]) -> state.Row:
    return tuple(GENERATED_PREFIX + names[cell] if isinstance(cell, str) and cell in names else cell for cell in row)


def outcome_digest_sums(
    digest_sums: Mapping[str, int], touched: Iterable[tuple[str, state.Row]], generated: Mapping[str, str]
) -> dict[str, int]:
    """`digest_sums` with every touched row that holds a generated id counted under its renamed image.

    Rows the episode did not touch hold no id it generated, so only `touched` (current images) is read.
    """
    rows = [(table, row) for table, row in touched if any(isinstance(cell, str) and cell in generated for cell in row)]
    sums = dict(digest_sums)
    if not rows:
        return sums
    names = canonical_names(rows, generated)
    for table, row in rows:
        delta = state.row_digest(table, renamed(row, names)) - state.row_digest(table, row)
        sums[table] = (sums[table] + delta) % state.MODULUS
    return sums
