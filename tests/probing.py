"""A generic prober of a domain's tools, driven by `domains/<name>/examples/probes.yaml`.

The probes file gives, per tool, one or more SQL queries whose rows are candidate arguments (column
names are parameter names); a tool without parameters is called with `{}` and lists no query (`[]`).
The prober adds generic mutations of those candidates (a parameter swapped for another candidate's
value, an unknown id, a scaled number, optional parameters left out), calls the tool with each
candidate on a fresh episode, and keeps candidates that pass every precondition and, per
precondition, one that fails first there (the engine reports which). The test then checks those
calls: the passing one succeeds and changes the state, each failing one fails with its
precondition's message and changes nothing. No domain has Python of its own; a domain only writes queries.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from toolscale.authoring.prober import argument_mutations
from toolscale.engine.database import DomainDatabase
from toolscale.engine.tools import CompiledTool

PROBES_FILE = "examples/probes.yaml"
# Candidate rows kept from each probe query (the swaps per parameter are the authoring prober's).
ROWS_PER_QUERY = 12


@dataclass
class ToolProbe:
    """What the prober found for one tool: passing candidates and, per precondition, a failing one."""

    passing: list[dict[str, Any]] = field(default_factory=list)
    failing: dict[int, dict[str, Any]] = field(default_factory=dict)  # precondition index -> arguments


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
        # A tool without parameters has one call to make, and no query can name its arguments.
        rows: list[dict[str, Any]] = [] if tool.parameter_names else [{}]
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
        for row in rows:  # first each row with its required arguments only
            if set(row) - required:
                yield {name: value for name, value in row.items() if name in required}
        yield from argument_mutations(rows, required)

    def probe(self, tool: CompiledTool, queries: list[str]) -> ToolProbe:
        """Call the tool with each candidate on a fresh episode; the engine says which precondition failed."""
        found = ToolProbe()
        wanted = len(tool.spec.preconditions)
        for arguments in self.candidates(tool, queries):
            with self.database.fork() as environment:
                observation = environment.call(tool.name, arguments)
            if observation.reason != "precondition":
                found.passing.append(arguments)
            elif observation.precondition is not None and observation.precondition not in found.failing:
                found.failing[observation.precondition] = arguments
            if len(found.failing) == wanted and len(found.passing) >= 5:
                break
        return found
