"""Checks of the population part of a spec: generators fit their columns, row counts are defined,
fixed `data` rows fit their table.

A domain that declares no generator at all is not populated (its rows come from elsewhere) and only
its `data` rows are checked here; one that declares any must let `toolscale populate` fill every column.
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Iterator

from toolscale.engine.database import encode_value
from toolscale.populate.fakes import FakerError, faker_sample
from toolscale.spec.generators import (
    ChoiceGenerator,
    ConstantGenerator,
    DateGenerator,
    FakerGenerator,
    Generator,
    IntegerGenerator,
    LookupGenerator,
    PatternGenerator,
    RealGenerator,
    ReferenceGenerator,
)
from toolscale.spec.models import Column, ColumnType, DomainSpec, Table, is_populated

Location = tuple[str | int, ...]
Problem = tuple[Location, str]


def fits_type(column_type: ColumnType, value: object) -> bool:
    """Whether a generated Python value can be stored in a column of this type."""
    if column_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if column_type == "real":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if column_type == "boolean":
        return isinstance(value, bool)
    if column_type == "json":
        return True
    return isinstance(value, str)


def check_population(spec: DomainSpec) -> Iterator[Problem]:
    # Fixed rows are checked in every domain: a fixture-only domain may declare a catalogue too.
    for index, table in enumerate(spec.tables):
        if table.data is not None:
            for location, reason in _data_problems(spec, table):
                yield ("tables", index, *location), reason
    if not is_populated(spec):
        return
    caller = spec.table(spec.caller.table)
    if caller is not None and not caller.rows:
        yield ("caller", "table"), f"table {caller.name!r} needs `rows` > 0: populate sizes count rows of the caller table"
    declared: set[str] = set()
    for index, table in enumerate(spec.tables):
        if table.data is None:
            yield from _generated_table_problems(spec, index, table)
        for column_index, column in enumerate(table.columns):
            inserted = column.generator is not None or table.data is not None
            parent = column.references.split(".")[0] if column.references and inserted else None
            if parent is not None and parent not in declared:
                yield (
                    ("tables", index, "columns", column_index, "references"),
                    f"references table {parent!r}, which must be declared before {table.name!r} (rows are inserted in order)",
                )
        declared.add(table.name)


def _generated_table_problems(spec: DomainSpec, index: int, table: Table) -> Iterator[Problem]:
    for column_index, column in enumerate(table.columns):
        where: Location = ("tables", index, "columns", column_index)
        if column.generator is None:
            if not column.nullable:
                yield where, f"column {table.name}.{column.name} has no generator, so populate cannot fill it"
            continue
        if isinstance(column.generator, LookupGenerator):
            for location, reason in _lookup_problems(spec, table, column, column.generator):
                yield (*where, "generator", *location), reason
            continue
        for location, reason in _generator_problems(spec, column, column.generator):
            yield (*where, "generator", *location), reason
    drivers = [
        column.name for column in table.columns if isinstance(column.generator, ReferenceGenerator) and not column.generator.pick
    ]
    if table.rows is not None and drivers:
        yield ("tables", index, "rows"), f"table {table.name!r} declares rows, so its references must use `pick`: {drivers}"
    if table.rows is None and len(drivers) != 1:
        yield ("tables", index), f"table {table.name!r} needs `rows` or exactly one driving reference, has {drivers}"


def _data_problems(spec: DomainSpec, table: Table) -> Iterator[Problem]:
    """Fixed rows fit the table's columns as a generated row must; locations are relative to the table."""
    assert table.data is not None
    if table.rows is not None:
        yield ("rows",), f"table {table.name!r} has exactly its `data` rows, so it cannot also declare `rows`"
    for column_index, column in enumerate(table.columns):
        if column.generator is not None:
            yield (
                ("columns", column_index, "generator"),
                f"table {table.name!r} takes its rows from `data`, so this generator would never run",
            )
    first_row: dict[str, dict[object, int]] = {}  # unique column -> stored value -> first row holding it
    for row_index, row in enumerate(table.data):
        where: Location = ("data", row_index)
        for name in row:
            if table.column(name) is None:
                yield (*where, name), f"table {table.name!r} has no column {name!r}"
        for column in table.columns:
            value = row.get(column.name)
            if value is None:
                if not column.nullable:
                    location = (*where, column.name) if column.name in row else where
                    yield location, f"column {column.name!r} is not nullable, so every row needs a value for it"
                continue
            reason = value_problem(column, value)
            if reason is None and column.references is not None:
                reason = _catalogue_key_problem(spec, column.references, value)
            if reason is not None:
                yield (*where, column.name), reason
            elif column.primary_key or column.unique:
                first = first_row.setdefault(column.name, {}).setdefault(encode_value(column, value), row_index)
                if first != row_index:
                    yield (*where, column.name), f"value {value!r} repeats data[{first}]'s, and column {column.name!r} is unique"


def value_problem(column: Column, value: object) -> str | None:
    """Why a given (not null) value cannot be stored in this column, if it cannot."""
    if not fits_type(column.type, value):
        return f"value {value!r} does not fit column type {column.type!r}"
    if column.enum is not None and value not in column.enum:
        return f"value {value!r} is not one of the column's enum {column.enum}"
    if column.type in ("date", "datetime") and not _is_iso(column.type, str(value)):
        # Dates are compared as text, so only the form populate and the clock write orders correctly.
        example = "2025-01-31" if column.type == "date" else "2025-01-31T09:00:00"
        return f"value {value!r} is not an ISO {column.type} written like {example!r}"
    return None


def _is_iso(column_type: ColumnType, text: str) -> bool:
    parse = dt.date.fromisoformat if column_type == "date" else dt.datetime.fromisoformat
    try:
        return parse(text).isoformat() == text
    except ValueError:
        return False


def _catalogue_key_problem(spec: DomainSpec, references: str, value: object) -> str | None:
    """A value must be a key of a referenced `data` table; keys of generated tables are only known at populate time."""
    keys = catalogue_keys(spec, references)
    if keys is not None and value not in keys:
        return f"value {value!r} is not a {references} of that table's data"
    return None


def catalogue_keys(spec: DomainSpec, references: str) -> list[object] | None:
    """The values of the referenced column when its table has fixed `data`, else None."""
    table_name, column_name = references.split(".")
    table = spec.table(table_name)
    if table is None or table.data is None:
        return None
    return [row.get(column_name) for row in table.data]


def _lookup_problems(spec: DomainSpec, table: Table, column: Column, generator: LookupGenerator) -> Iterator[Problem]:
    via = table.column(generator.via)
    if via is None or via.references is None or not isinstance(via.generator, ReferenceGenerator):
        yield ("via",), f"{generator.via!r} is not a generated reference column of table {table.name!r}"
        return
    parent = spec.table(via.references.split(".")[0])
    source = parent.column(generator.column) if parent else None
    if parent is None or source is None:
        yield ("column",), f"the referenced table has no column {generator.column!r}"
    elif source.type != column.type:
        yield ("column",), f"{parent.name}.{source.name} is {source.type!r}, column type is {column.type!r}"
    elif isinstance(source.generator, LookupGenerator):
        yield ("column",), f"{parent.name}.{source.name} is itself a lookup; copy from its source instead"


def _generator_problems(spec: DomainSpec, column: Column, generator: Generator) -> Iterator[Problem]:
    # A catalogue's keys are known, so a reference to one may be a (weighted) choice of them.
    catalogue = column.references is not None and catalogue_keys(spec, column.references) is not None
    by_value = catalogue and isinstance(generator, ChoiceGenerator | ConstantGenerator)
    if isinstance(generator, ReferenceGenerator) != (column.references is not None) and not by_value:
        yield (
            ("kind",),
            "a column with `references` needs a reference generator (or a choice or constant of the keys of a table "
            "with `data`), and only such a column can have one",
        )
        return
    if isinstance(generator, FakerGenerator):
        try:
            sample = faker_sample(generator.locale, generator.provider, generator.args)
        except FakerError as failure:
            yield ("provider",), str(failure)
            return
        if not fits_type(column.type, sample):
            yield (
                ("provider",),
                f"Faker's {generator.provider} gives {type(sample).__name__} values, column type is {column.type!r}",
            )
    elif isinstance(generator, ChoiceGenerator | ConstantGenerator):
        values = generator.values if isinstance(generator, ChoiceGenerator) else [generator.value]
        for value_index, value in enumerate(values):
            location: Location = ("values", value_index) if isinstance(generator, ChoiceGenerator) else ("value",)
            if value is None:
                if not column.nullable:
                    yield location, "null in a column that is not nullable"
            elif not fits_type(column.type, value):
                yield location, f"value {value!r} does not fit column type {column.type!r}"
            elif column.enum is not None and value not in column.enum:
                yield location, f"value {value!r} is not one of the column's enum {column.enum}"
            elif column.references is not None and (reason := _catalogue_key_problem(spec, column.references, value)):
                yield location, reason
    elif isinstance(generator, IntegerGenerator):
        if column.type not in ("integer", "real"):
            yield ("kind",), f"integers do not fit column type {column.type!r}"
    elif isinstance(generator, RealGenerator):
        if column.type != "real":
            yield ("kind",), f"reals do not fit column type {column.type!r}"
    elif isinstance(generator, DateGenerator):
        if column.type not in ("date", "datetime"):
            yield ("kind",), f"dates fit only date and datetime columns, not {column.type!r}"
    elif isinstance(generator, PatternGenerator):
        fields = [parsed[1] for parsed in string.Formatter().parse(generator.pattern) if parsed[1] is not None]
        if fields != ["seq"]:
            yield ("pattern",), f"pattern must use {{seq}} exactly once and nothing else, uses {fields}"
        elif column.type == "integer" and generator.pattern != "{seq}":
            yield ("pattern",), "an integer column's pattern can only be '{seq}'"
        elif column.type not in ("text", "integer"):
            yield ("kind",), f"patterns fit text and integer columns, not {column.type!r}"
        else:
            try:
                generator.pattern.format(seq=1)
            except (ValueError, KeyError, IndexError) as error:
                yield ("pattern",), f"invalid format string: {error}"
