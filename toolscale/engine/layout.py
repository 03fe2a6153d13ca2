"""What every episode of a domain needs to know about its tables, computed once per database."""

from __future__ import annotations

from dataclasses import dataclass

from toolscale.engine.schema import change_log_width, json_columns
from toolscale.engine.tools import DECODERS, ValueDecoder
from toolscale.spec.models import DomainSpec


@dataclass(frozen=True)
class TableLayout:
    columns: str  # comma-separated column list in declared order
    primary_key_index: int
    decoders: tuple[ValueDecoder, ...]
    names: tuple[str, ...]
    json_columns: tuple[int, ...]


@dataclass(frozen=True)
class DomainLayout:
    tables: dict[str, TableLayout]
    check_messages: dict[str, str]  # CHECK constraint name -> what the agent is told when a write breaks it
    clock: dict[str, str]  # the :now and :today parameters
    log_width: int  # where a change-log row's after-image starts (see schema.change_log_triggers)


def domain_layout(spec: DomainSpec) -> DomainLayout:
    tables = {
        table.name: TableLayout(
            columns=", ".join(column.name for column in table.columns),
            primary_key_index=next(i for i, column in enumerate(table.columns) if column.primary_key),
            decoders=tuple(DECODERS[column.type] for column in table.columns),
            names=tuple(column.name for column in table.columns),
            json_columns=json_columns(table),
        )
        for table in spec.tables
    }
    return DomainLayout(
        tables=tables,
        check_messages={check.name: check.message for table in spec.tables for check in table.checks},
        clock={"now": spec.clock.isoformat(), "today": spec.clock.date().isoformat()},
        log_width=change_log_width(spec),
    )
