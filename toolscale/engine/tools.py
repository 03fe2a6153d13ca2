"""Tools compiled from the spec: argument validators, bound SQL and typed JSON results."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from toolscale.spec.models import ColumnType, DomainSpec, Tool

ValueDecoder = Callable[[Any], Any]

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


@dataclass(frozen=True)
class CompiledTool:
    spec: Tool
    validator: jsonschema_rs.Validator
    parameter_names: tuple[str, ...]
    json_parameters: frozenset[str]  # arrays and objects, bound as JSON text
    result_decoders: Mapping[str, ValueDecoder]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def writes(self) -> bool:
        return self.spec.kind == "write"

    def argument_error(self, arguments: Any) -> str | None:
        """Why `arguments` do not fit the tool's JSON Schema, or None when they do."""
        if self.validator.is_valid(arguments):
            return None
        error = next(iter(self.validator.iter_errors(arguments)))
        location = "/".join(str(part) for part in error.instance_path)
        return f"{location}: {error.message}" if location else error.message

    def bind(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """SQL parameters from valid arguments: omitted optional ones are NULL, lists are JSON text."""
        bound: dict[str, Any] = {}
        for name in self.parameter_names:
            value = arguments.get(name)
            bound[name] = json.dumps(value, sort_keys=True) if name in self.json_parameters and value is not None else value
        return bound

    def decoders_for(self, column_names: tuple[str, ...]) -> tuple[ValueDecoder, ...]:
        return tuple(self.result_decoders.get(name, _identity) for name in column_names)


def compile_tool(tool: Tool, types_by_name: Mapping[str, set[ColumnType]]) -> CompiledTool:
    decoders: dict[str, ValueDecoder] = {}
    for name, types in types_by_name.items():
        if len(types) == 1:
            decoders[name] = DECODERS[next(iter(types))]
    if tool.result is not None:
        decoders.update({name: DECODERS[column_type] for name, column_type in tool.result.types.items()})
    properties = tool.parameters.properties
    return CompiledTool(
        spec=tool,
        validator=jsonschema_rs.validator_for(parameters_schema(tool)),
        parameter_names=tuple(properties),
        json_parameters=frozenset(name for name, parameter in properties.items() if parameter.type in ("array", "object")),
        result_decoders=decoders,
    )


def compile_tools(spec: DomainSpec) -> dict[str, CompiledTool]:
    types_by_name = column_types_by_name(spec)
    return {tool.name: compile_tool(tool, types_by_name) for tool in spec.tools}
