"""Checks of the population part of a spec: generators fit their columns, row counts are defined.

A domain that declares no generator at all is not populated (its rows come from elsewhere) and is
not checked here; one that declares any must let `toolscale populate` fill every column.
"""

from __future__ import annotations

import string
from collections.abc import Iterator

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
from toolscale.spec.models import Column, ColumnType, DomainSpec, Table

Location = tuple[str | int, ...]
Problem = tuple[Location, str]


def is_populated(spec: DomainSpec) -> bool:
    return any(column.generator is not None for table in spec.tables for column in table.columns)


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
    if not is_populated(spec):
        return
    caller = spec.table(spec.caller.table)
    if caller is not None and not caller.rows:
        yield ("caller", "table"), f"table {caller.name!r} needs `rows` > 0: populate sizes count rows of the caller table"
    declared: set[str] = set()
    for index, table in enumerate(spec.tables):
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
            for location, reason in _generator_problems(column, column.generator):
                yield (*where, "generator", *location), reason
        drivers = [
            column.name
            for column in table.columns
            if isinstance(column.generator, ReferenceGenerator) and not column.generator.pick
        ]
        if table.rows is not None and drivers:
            yield ("tables", index, "rows"), f"table {table.name!r} declares rows, so its references must use `pick`: {drivers}"
        if table.rows is None and len(drivers) != 1:
            yield ("tables", index), f"table {table.name!r} needs `rows` or exactly one driving reference, has {drivers}"
        for column_index, column in enumerate(table.columns):
            parent = column.references.split(".")[0] if column.references and column.generator else None
            if parent is not None and parent not in declared:
                yield (
                    ("tables", index, "columns", column_index, "references"),
                    f"references table {parent!r}, which must be declared before {table.name!r} (rows are inserted in order)",
                )
        declared.add(table.name)


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


def _generator_problems(column: Column, generator: Generator) -> Iterator[Problem]:
    if isinstance(generator, ReferenceGenerator) != (column.references is not None):
        yield ("kind",), "a column with `references` needs a reference generator, and only such a column can have one"
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
