"""YAML config files with `--set key=value` overrides, validated by a pydantic model.

An override's key is a dotted path into the file's mapping (`grpo.max_steps=2`, `data.domains=[bank]`);
its value is read as YAML, so numbers, booleans and lists have their types. The merged mapping is
validated like the file alone, and every problem is one line naming the file, the field and the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from toolscale.errors import ToolScaleError
from toolscale.spec.errors import format_location
from toolscale.yamlfile import YamlFileError, read_yaml_file

Model = TypeVar("Model", bound=pydantic.BaseModel)


class SettingsError(ToolScaleError, ValueError):
    """A config file or override that cannot be used; one line per problem, each naming file, field and reason."""


def apply_override(data: dict[str, Any], override: str, source: Path) -> None:
    """Set one `key.path=value` in `data` (in place), creating mappings along the path."""
    key, equals, text = override.partition("=")
    parts = key.strip().split(".")
    if not equals or not all(parts):
        raise SettingsError(f"{source}: --set {override!r}: expected key=value, e.g. grpo.max_steps=2")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SettingsError(f"{source}: --set {key}: value is not valid YAML: {error}") from error
    target = data
    for depth, part in enumerate(parts[:-1]):
        child = target.setdefault(part, {})
        if not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            raise SettingsError(f"{source}: --set {key}: {where} is a {type(child).__name__}, not a mapping")
        target = child
    target[parts[-1]] = value


def load_settings(
    path: Path, model: type[Model], overrides: Sequence[str] = (), error: type[SettingsError] = SettingsError
) -> Model:
    """A YAML file (read with limits on size, depth and aliases) validated as `model`, `--set` overrides applied;
    raises `error` with one line per problem."""
    try:
        data = read_yaml_file(path)
    except YamlFileError as problem:
        raise error(str(problem)) from problem
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise error(f"{path}: expected a mapping of settings, found {type(data).__name__}")
    for override in overrides:
        apply_override(data, override, path)
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as invalid:
        shown = f"{path} (with --set {', '.join(overrides)})" if overrides else str(path)
        reasons = [f"{shown}: {format_location(detail['loc'])}: {detail['msg']}" for detail in invalid.errors()]
        raise error("\n".join(reasons)) from invalid
