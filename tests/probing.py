"""A generic prober of a domain's tools, driven by `domains/<name>/examples/probes.yaml`.

The probes file gives, per tool, one or more SQL queries whose rows are candidate arguments (column
names are parameter names). The prober adds generic mutations of those candidates (a parameter
swapped for another candidate's value, an unknown id, a scaled number, optional parameters left out),
evaluates each candidate's preconditions in order on a read-only copy of the database, and keeps
one candidate that passes every precondition and one that fails first at each precondition. The
test then calls the tool with them. No domain has Python of its own; a domain only writes queries.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from toolscale.engine.database import DomainDatabase
from toolscale.engine.tools import CompiledTool, render_message
from toolscale.spec.models import Precondition

PROBES_FILE = "examples/probes.yaml"
# Candidate rows kept from each probe query, and other rows' values tried per swapped parameter.
ROWS_PER_QUERY = 12
SWAPS_PER_PARAMETER = 4


@dataclass
class ToolProbe:
    """What the prober found for one tool: passing candidates and, per precondition, a failing one."""

    passing: list[dict[str, Any]] = field(default_factory=list)
    failing: dict[int, tuple[dict[str, Any], str]] = field(default_factory=dict)  # index -> (arguments, expected error)


def read_probes(domain_dir: Path) -> dict[str, list[str]]:
    data = yaml.safe_load((domain_dir / PROBES_FILE).read_text(encoding="utf-8"))
    return {name: [queries] if isinstance(queries, str) else list(queries) for name, queries in data.items()}


class Prober:
    def __init__(self, database: DomainDatabase) -> None:
        self.database = database
        clock = database.spec.clock
        self.clock = {"now": clock.isoformat(), "today": clock.date().isoformat()}
        self.connection = sqlite3.connect(":memory:")
        self.connection.deserialize(database.image)

    def close(self) -> None:
        self.connection.close()

    def candidates(self, tool: CompiledTool, queries: list[str]) -> Iterator[dict[str, Any]]:
        """The probe queries' rows first, then their mutations; each is schema-valid for the tool."""
        rows: list[dict[str, Any]] = []
        for query in queries:
            cursor = self.connection.execute(query, self.clock)
            names = [column[0] for column in cursor.description]
            unknown = set(names) - set(tool.parameter_names)
            assert not unknown, f"{tool.name}: probe columns {sorted(unknown)} are not parameters"
            for row in cursor.fetchmany(ROWS_PER_QUERY):
                rows.append({name: value for name, value in zip(names, row, strict=True) if value is not None})
        seen: set[str] = set()
        for arguments in [*rows, *self._mutations(tool, rows)]:
            key = repr(sorted(arguments.items()))
            if key not in seen and tool.argument_error(arguments) is None:
                seen.add(key)
                yield arguments

    def _mutations(self, tool: CompiledTool, rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        required = set(tool.spec.parameters.required)
        for row in rows:
            optional = {name: value for name, value in row.items() if name not in required}
            if optional:
                yield {name: value for name, value in row.items() if name in required}
            for name, value in row.items():
                others = list(dict.fromkeys(other[name] for other in rows if other.get(name) not in (None, value)))
                for other in others[:SWAPS_PER_PARAMETER]:
                    yield row | {name: other}
                if name not in required:
                    yield {key: kept for key, kept in row.items() if key != name}
                if isinstance(value, str):
                    yield row | {name: f"{value}-UNKNOWN"}
                elif isinstance(value, int | float) and not isinstance(value, bool):
                    for factor in (1000, 0.001, -1):
                        yield row | {name: value * factor}

    def first_failure(self, tool: CompiledTool, arguments: Mapping[str, Any]) -> tuple[int, str] | None:
        """The index and rendered error of the first precondition these arguments fail, or None."""
        parameters = tool.bind(arguments) | self.clock
        for index, precondition in enumerate(tool.spec.preconditions):
            failed, values = self._fails(precondition, parameters)
            if failed:
                return index, render_message(precondition.error, {**arguments, **values})
        return None

    def _fails(self, precondition: Precondition, parameters: Mapping[str, Any]) -> tuple[bool, dict[str, Any]]:
        fail_if = getattr(precondition, "fail_if", None)
        if fail_if is not None:
            cursor = self.connection.execute(fail_if, parameters)
            row = cursor.fetchone()
            names = [column[0] for column in cursor.description]
            return row is not None, dict(zip(names, row, strict=True)) if row is not None else {}
        return self.connection.execute(precondition.query, parameters).fetchone() is None, {}

    def probe(self, tool: CompiledTool, queries: list[str]) -> ToolProbe:
        found = ToolProbe()
        wanted = len(tool.spec.preconditions)
        for arguments in self.candidates(tool, queries):
            failure = self.first_failure(tool, arguments)
            if failure is None:
                found.passing.append(arguments)
            elif failure[0] not in found.failing:
                found.failing[failure[0]] = (arguments, failure[1])
            if len(found.failing) == wanted and len(found.passing) >= 5:
                break
        return found
