"""Tools compiled from the spec: argument validators, bound SQL and typed JSON results."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from toolscale.spec.models import ColumnType, DomainSpec, Result, Tool

ValueDecoder = Callable[[Any], Any]
Execute = Callable[[str, Mapping[str, Any]], sqlite3.Cursor]

_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")


def _decode_boolean(value: Any) -> Any:
    return value if value is None else bool(value)


def _decode_json(value: Any) -> Any:
    return value if value is None else json.loads(value)


def _identity(value: Any) -> Any:
    return value


DECODERS: dict[ColumnType, ValueDecoder] = {
    "boolean": _decode_boolean,
    "json": _decode_json,
    "text": _identity,
    "integer": _identity,
    "real": _identity,
    "date": _identity,
    "datetime": _identity,
}


def column_types_by_name(spec: DomainSpec) -> dict[str, set[ColumnType]]:
    """Every column name of the spec mapped to the types it has across tables."""
    types: dict[str, set[ColumnType]] = {}
    for table in spec.tables:
        for column in table.columns:
            types.setdefault(column.name, set()).add(column.type)
    return types


def parameters_schema(tool: Tool) -> dict[str, Any]:
    """The tool's parameters as the JSON Schema object the model sees (no extra properties)."""
    schema = tool.parameters.model_dump(exclude_none=True)
    schema["additionalProperties"] = False
    return schema


def openai_tool(tool: Tool) -> dict[str, Any]:
    """The tool in OpenAI function-calling format."""
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": parameters_schema(tool)},
    }


def render_message(template: str, arguments: Mapping[str, Any]) -> str:
    """Fill `{name}` placeholders with argument values; nothing else in the template is interpreted."""
    return _PLACEHOLDER.sub(lambda match: str(arguments.get(match.group(1), match.group(0))), template)


# How one key of an assembled object is filled: from a column, an object of columns, or a child result.
_COLUMN, _NEST, _CHILD = 0, 1, 2


@dataclass(frozen=True)
class _RowPlan:
    """How rows with given column names become objects; built once per column list."""

    names: tuple[str, ...]
    decoders: tuple[ValueDecoder, ...]
    entries: tuple[tuple[str, int, Any], ...]  # (key, kind, column index | column indices | CompiledResult)
    plain: bool  # every entry is a column, in order, under its own name: an object is dict(zip(names, row))
    decoded: tuple[tuple[int, str, ValueDecoder], ...]  # then these columns decoded: (index, name, decoder)


@dataclass(frozen=True)
class CompiledResult:
    """A `Result` ready to render: decoders by column name and compiled children."""

    spec: Result
    decoders: Mapping[str, ValueDecoder]
    children: Mapping[str, CompiledResult]
    _plans: dict[tuple[str, ...], _RowPlan] = field(default_factory=dict, repr=False)

    def render(self, execute: Execute, parameters: Mapping[str, Any]) -> Any:
        """Run the query with `parameters` and shape its rows (children run once per row)."""
        cursor = execute(self.spec.query, parameters)
        names = tuple(column[0] for column in cursor.description)
        plan = self._plans.get(names)
        if plan is None:
            plan = self._plans[names] = self._plan(names)
        shape = self.spec.shape
        if shape == "value":
            row = cursor.fetchone()
            return None if row is None else plan.decoders[0](row[0])
        if shape == "values":
            decode = plan.decoders[0]
            return [decode(row[0]) for row in cursor]
        if shape == "value_map":
            key_decoder, value_decoder = plan.decoders[0], plan.decoders[1]
            return {str(key_decoder(row[0])): value_decoder(row[1]) for row in cursor}
        if shape == "map":
            key_decoder = plan.decoders[0]
            return {str(key_decoder(row[0])): self._object(plan, row, execute, parameters) for row in cursor}
        if shape == "row":
            row = cursor.fetchone()
            return None if row is None else self._object(plan, row, execute, parameters)
        if plan.plain and not plan.decoded:
            names = plan.names
            return [dict(zip(names, row, strict=True)) for row in cursor]
        return [self._object(plan, row, execute, parameters) for row in cursor]

    def _plan(self, names: tuple[str, ...]) -> _RowPlan:
        index = {name: i for i, name in reversed(list(enumerate(names)))}
        nested_first: dict[int, tuple[str, tuple[int, ...]]] = {}
        nested_rest: set[int] = set()
        for key, columns in self.spec.nest.items():
            indices = tuple(index[column] for column in columns)
            nested_first[indices[0]] = (key, indices)
            nested_rest.update(indices[1:])
        entries: list[tuple[str, int, Any]] = []
        # A map's first column is its key, not part of its values.
        start = 1 if self.spec.shape == "map" else 0
        for i in range(start, len(names)):
            if i in nested_first:
                key, indices = nested_first[i]
                entries.append((key, _NEST, indices))
            elif i in nested_rest:
                continue
            elif names[i] in self.children:
                entries.append((names[i], _CHILD, self.children[names[i]]))
            else:
                entries.append((names[i], _COLUMN, i))
        decoders = tuple(self.decoders.get(name, _identity) for name in names)
        plain = start == 0 and not self.spec.omit_null and all(kind == _COLUMN for _, kind, _ in entries)
        return _RowPlan(
            names=names,
            decoders=decoders,
            entries=tuple(entries),
            plain=plain,
            decoded=tuple((i, names[i], decoder) for i, decoder in enumerate(decoders) if decoder is not _identity),
        )

    def _object(self, plan: _RowPlan, row: tuple[Any, ...], execute: Execute, parameters: Mapping[str, Any]) -> dict[str, Any]:
        if plan.plain:
            plain = dict(zip(plan.names, row, strict=True))
            for index, name, decode in plan.decoded:
                plain[name] = decode(row[index])
            return plain
        decoders = plan.decoders
        output: dict[str, Any] = {}
        child_parameters: dict[str, Any] | None = None
        for key, kind, payload in plan.entries:
            if kind == _COLUMN:
                value = decoders[payload](row[payload])
            elif kind == _NEST:
                value = {plan.names[i]: decoders[i](row[i]) for i in payload}
            else:
                if child_parameters is None:
                    child_parameters = {**parameters, **dict(zip(plan.names, row, strict=True))}
                value = payload.render(execute, child_parameters)
            if value is None and self.spec.omit_null:
                continue
            output[key] = value
        return output


def compile_result(result: Result, types_by_name: Mapping[str, set[ColumnType]]) -> CompiledResult:
    decoders = {name: DECODERS[next(iter(types))] for name, types in types_by_name.items() if len(types) == 1}
    decoders.update({name: DECODERS[column_type] for name, column_type in result.types.items()})
    children = {key: compile_result(child, types_by_name) for key, child in result.children.items()}
    return CompiledResult(spec=result, decoders=decoders, children=children)


@dataclass(frozen=True)
class CompiledTool:
    spec: Tool
    validator: jsonschema_rs.Validator
    parameter_names: tuple[str, ...]
    json_parameters: frozenset[str]  # arrays and objects, bound as JSON text
    result: CompiledResult | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def writes(self) -> bool:
        return self.spec.kind == "write"

    def argument_error(self, arguments: Any) -> str | None:
        """Why `arguments` do not fit the tool's JSON Schema, or None when they do."""
        try:
            if self.validator.is_valid(arguments):
                return None
            error = next(iter(self.validator.iter_errors(arguments)))
        except (ValueError, OverflowError, TypeError) as failure:  # values the validator cannot read at all
            return str(failure)
        location = "/".join(str(part) for part in error.instance_path)
        return f"{location}: {error.message}" if location else error.message

    def bind(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """SQL parameters from valid arguments: omitted optional ones are NULL, lists are JSON text."""
        bound: dict[str, Any] = {}
        for name in self.parameter_names:
            value = arguments.get(name)
            bound[name] = json.dumps(value, sort_keys=True) if name in self.json_parameters and value is not None else value
        return bound


def compile_tool(tool: Tool, types_by_name: Mapping[str, set[ColumnType]]) -> CompiledTool:
    properties = tool.parameters.properties
    return CompiledTool(
        spec=tool,
        validator=jsonschema_rs.validator_for(parameters_schema(tool)),
        parameter_names=tuple(properties),
        json_parameters=frozenset(name for name, parameter in properties.items() if parameter.type in ("array", "object")),
        result=None if tool.result is None else compile_result(tool.result, types_by_name),
    )


def compile_tools(spec: DomainSpec) -> dict[str, CompiledTool]:
    types_by_name = column_types_by_name(spec)
    return {tool.name: compile_tool(tool, types_by_name) for tool in spec.tools}
