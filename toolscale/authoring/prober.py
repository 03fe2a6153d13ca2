"""The generic prober: every tool succeeds at least once and every precondition fails once with its message.

Nothing about a domain is written for it: candidate arguments come from the populated rows (a parameter
takes the values of the columns of the same name), from the grammar's candidate queries for the tool,
and from mutations of those (a value swapped for another row's, an unknown id, a scaled number, an
optional argument left out). Each call runs on a fresh episode; the engine says which precondition failed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from toolscale.engine.database import DomainDatabase
from toolscale.engine.tools import CompiledTool
from toolscale.tasks.grammar import CALLER_PARAMETER, Goal, Refusal, TaskGrammar

ROWS_PER_TABLE = 40  # rows of each table read for arguments, by rowid
VALUES_PER_PARAMETER = 12  # distinct values kept per parameter from same-named columns
SWAPS_PER_PARAMETER = 4
CALLERS_PER_GOAL = 20
MAX_CALLS_PER_TOOL = 4000


@dataclass
class ToolProbe:
    tool: str
    calls: int = 0
    succeeded: dict[str, Any] | None = None  # the first arguments the tool accepted
    failed: dict[int, tuple[dict[str, Any], str]] = field(default_factory=dict)  # precondition -> arguments, message
    wrong_messages: list[str] = field(default_factory=list)

    def problems(self, tool: CompiledTool) -> list[str]:
        found = [] if self.succeeded is not None else [f"never succeeded in {self.calls} calls"]
        for index, precondition in enumerate(tool.spec.preconditions):
            if index not in self.failed:
                found.append(f"preconditions[{index}] never failed in {self.calls} calls ({precondition.error!r})")
        return found + self.wrong_messages


def matches_template(template: str, message: str | None) -> bool:
    """Whether `message` is `template` with its {placeholders} filled by some values."""
    parts = re.split(r"(\{[a-z][a-z0-9_]*\})", template)
    pattern = "".join(".+?" if part.startswith("{") else re.escape(part) for part in parts)
    return message is not None and re.fullmatch(pattern, message, flags=re.DOTALL) is not None


class Prober:
    def __init__(self, database: DomainDatabase, grammar: TaskGrammar) -> None:
        self.database = database
        self.grammar = grammar
        spec = database.spec
        caller = spec.caller_table()
        self._caller_key = caller.primary_key.name
        with database.fork() as environment:
            self._rows = {
                table.name: environment.records(f"SELECT * FROM {table.name} ORDER BY rowid LIMIT {ROWS_PER_TABLE}")
                for table in spec.tables
            }
            self._callers = [row[self._caller_key] for row in self._rows[caller.name][:CALLERS_PER_GOAL]]
            self._goal_rows = {goal_tool: self._grammar_rows(environment, goal_tool) for goal_tool in database.tools}
        self._pools: dict[str, list[Any]] = {}
        for rows in self._rows.values():
            for row in rows:
                for name, value in row.items():
                    pool = self._pools.setdefault(name, [])
                    if value is not None and value not in pool and len(pool) < VALUES_PER_PARAMETER:
                        pool.append(value)

    def _grammar_rows(self, environment: Any, tool: str) -> list[dict[str, Any]]:
        clock = self.database.layout.clock
        rows: list[dict[str, Any]] = []
        items: list[Goal | Refusal] = [*self.grammar.goals, *self.grammar.refusals]
        for item in items:
            if item.tool != tool:
                continue
            for caller_id in self._callers:
                for row in environment.records(item.candidates, {CALLER_PARAMETER: caller_id} | clock)[:3]:
                    rows.append({self._caller_key: caller_id} | row)
        return rows

    def probe_all(self) -> dict[str, ToolProbe]:
        return {name: self.probe(tool) for name, tool in self.database.tools.items()}

    def probe(self, tool: CompiledTool) -> ToolProbe:
        found = ToolProbe(tool.name)
        wanted = len(tool.spec.preconditions)
        for arguments in self._candidates(tool):
            if found.calls >= MAX_CALLS_PER_TOOL:
                break
            found.calls += 1
            with self.database.fork() as environment:
                observation = environment.call(tool.name, arguments)
            if observation.ok:
                found.succeeded = found.succeeded or arguments
            elif observation.reason == "precondition" and observation.precondition is not None:
                index = observation.precondition
                if index not in found.failed:
                    template = tool.spec.preconditions[index].error
                    found.failed[index] = (arguments, observation.error or "")
                    if not matches_template(template, observation.error):
                        found.wrong_messages.append(
                            f"preconditions[{index}] failed with {observation.error!r}, not its message {template!r}"
                        )
            if found.succeeded is not None and len(found.failed) == wanted:
                break
        return found

    def _candidates(self, tool: CompiledTool) -> Iterator[dict[str, Any]]:
        names = tool.parameter_names
        seeds: list[dict[str, Any]] = [] if names else [{}]
        seeds += [{name: row[name] for name in names if name in row} for row in self._goal_rows[tool.name]]
        for rows in self._rows.values():
            for row in rows:
                if any(name in row for name in names):
                    seeds.append({name: row[name] for name in names if name in row and row[name] is not None})
        filled = [self._fill(tool, seed, offset) for offset, seed in enumerate(seeds)]
        seen: set[str] = set()
        for arguments in [*filled, *self._mutations(tool, filled)]:
            key = repr(sorted(arguments.items()))
            if key not in seen and tool.argument_error(arguments) is None:
                seen.add(key)
                yield arguments

    def _fill(self, tool: CompiledTool, seed: Mapping[str, Any], offset: int) -> dict[str, Any]:
        """The seed, with each parameter it lacks taken from the values that parameter's name has elsewhere."""
        arguments = dict(seed)
        properties = tool.spec.parameters.properties
        for name in tool.parameter_names:
            if name in arguments:
                continue
            pool = self._pools.get(name) or list(properties[name].enum or []) or _typed_defaults(properties[name].type)
            if pool:
                arguments[name] = pool[offset % len(pool)]
        return arguments

    def _mutations(self, tool: CompiledTool, rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        return argument_mutations(rows, set(tool.spec.parameters.required), self._pools)


def argument_mutations(
    rows: list[dict[str, Any]], required: set[str], pools: Mapping[str, list[Any]] | None = None
) -> Iterator[dict[str, Any]]:
    """Candidate arguments near `rows`: a value swapped for another row's (or one of `pools`), an optional
    argument left out, an unknown id, a number scaled far up, down or negative."""
    for row in rows:
        for name, value in row.items():
            others = list(dict.fromkeys(other[name] for other in rows if other.get(name) not in (None, value)))
            others += [item for item in (pools or {}).get(name, []) if item != value and item not in others]
            for other in others[:SWAPS_PER_PARAMETER]:
                yield row | {name: other}
            if name not in required:
                yield {key: kept for key, kept in row.items() if key != name}
            if isinstance(value, str):
                yield row | {name: f"{value}-UNKNOWN"}
            elif isinstance(value, int | float) and not isinstance(value, bool):
                for factor in (1000, 0.001, -1):
                    yield row | {name: value * factor}


def _typed_defaults(kind: str) -> list[Any]:
    defaults: dict[str, list[Any]] = {
        "string": ["x"],
        "integer": [1, 5, 100],
        "number": [1.0, 10.5, 250.0],
        "boolean": [True, False],
    }
    return defaults.get(kind, [])
