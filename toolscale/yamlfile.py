"""YAML files read with limits: a size, a nesting depth and a count of nodes with aliases expanded.

A spec or config may come from anyone (or a model): a "billion laughs" file of nested aliases is a few
hundred bytes that expands to gigabytes when validated, and deep nesting overflows the parser's stack.
Each limit is far above what a real spec uses (the largest shipped spec is about 55 kB).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from toolscale.errors import ToolScaleError

MAX_BYTES = 4 << 20
MAX_DEPTH = 64
MAX_NODES = 200_000  # counting an alias as the whole node it repeats


class YamlLimitError(yaml.MarkedYAMLError):
    """A document over one of the limits; it carries the place it was found, like PyYAML's own errors."""


class _LimitedLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        self._weights: dict[int, int] = {}  # id(node) -> nodes in it, aliases expanded

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        is_alias = self.check_event(yaml.AliasEvent)
        mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlLimitError(problem=f"nested deeper than {MAX_DEPTH} levels", problem_mark=mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            return None
        if is_alias:
            weight = self._weights.get(id(node))
            if weight is None:
                raise YamlLimitError(problem="an alias refers to a node that contains it", problem_mark=mark)
            self._nodes += weight
        else:
            children: list[yaml.Node] = []
            if isinstance(node, yaml.SequenceNode):
                children = node.value
            elif isinstance(node, yaml.MappingNode):
                children = [part for pair in node.value for part in pair]
            self._weights[id(node)] = 1 + sum(self._weights.get(id(child), 1) for child in children)
            self._nodes += 1
        if self._nodes > MAX_NODES:
            raise YamlLimitError(problem=f"more than {MAX_NODES:,} values with aliases expanded", problem_mark=mark)
        return node


def read_yaml_text(path: Path) -> str:
    """The file's text: OSError if it cannot be read, ValueError (with the reason) if too big or not UTF-8."""
    with path.open("rb") as file:
        data = file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES >> 20} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8 text (byte {error.start} is {data[error.start]:#04x})") from error


class YamlFileError(ToolScaleError, ValueError):
    """A YAML file that cannot be read or parsed: its path, where in it (None: the file as a whole) and why."""

    def __init__(self, path: Path, where: str | None, reason: str) -> None:
        super().__init__(f"{path}: {where}: {reason}" if where else f"{path}: {reason}")
        self.path, self.where, self.reason = path, where, reason


def read_yaml_file(path: Path) -> Any:
    """The file's YAML document, within the limits; YamlFileError (one line) if it cannot be read or parsed."""
    try:
        text = read_yaml_text(path)
    except OSError as error:
        raise YamlFileError(path, None, f"cannot read: {error.strerror}") from error
    except ValueError as error:  # too large, not UTF-8
        raise YamlFileError(path, None, str(error)) from error
    try:
        return load_yaml(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(error, "problem", None) or " ".join(str(error).split())
        raise YamlFileError(path, where, f"invalid YAML: {problem}") from error


def load_yaml(text: str) -> Any:
    """Like yaml.safe_load, within the limits; raises yaml.YAMLError (YamlLimitError over a limit)."""
    loader = _LimitedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
