"""τ²-bench task files: read upstream's tasks.json, import its tasks as ToolScale records (checking their
actions against the domain's tools), and write records back in upstream's format.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pydantic
from pydantic import BaseModel

from toolscale.atomic import write_atomically
from toolscale.engine.tools import compile_tools
from toolscale.spec.models import DomainSpec
from toolscale.tasks.upstream import TaskRecord, Tau2Task

_Model = TypeVar("_Model", bound=BaseModel)


class TaskFileError(ValueError):
    """A task file that cannot be read; the message names the file, the task and the reason."""


def read_tau2_tasks(path: Path) -> list[Tau2Task]:
    """The tasks of an upstream `tasks.json` (a JSON array of tasks)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise TaskFileError(f"{path}: cannot read tasks: {error}") from error
    if not isinstance(data, list):
        raise TaskFileError(f"{path}: expected a JSON array of tasks, found {type(data).__name__}")
    return [validated(Tau2Task, item, f"{path}: task [{index}]") for index, item in enumerate(data)]


def validated(model: type[_Model], item: Any, where: str) -> _Model:
    try:
        return model.model_validate(item)
    except pydantic.ValidationError as error:
        task = f" (task {item.get('id')!r})" if isinstance(item, dict) else ""
        reasons = "; ".join(f"{'.'.join(str(part) for part in detail['loc'])}: {detail['msg']}" for detail in error.errors())
        raise TaskFileError(f"{where}{task}: {reasons}") from error


def action_problems(task: Tau2Task, spec: DomainSpec) -> list[str]:
    """Why the task's actions do not fit the domain's tools (unknown tool, invalid arguments)."""
    tools = compile_tools(spec)
    problems = []
    for action in task.actions:
        tool = tools.get(action.name)
        if tool is None:
            problems.append(f"task {task.id!r} action {action.action_id!r}: unknown tool {action.name!r} in domain {spec.name!r}")
            continue
        problem = tool.argument_error(action.arguments)
        if problem is not None:
            problems.append(f"task {task.id!r} action {action.action_id!r}: invalid arguments for {action.name}: {problem}")
    return problems


def import_tasks(tasks: Sequence[Tau2Task], domain: str) -> list[TaskRecord]:
    return [TaskRecord.model_validate({**task.to_upstream(), "domain": domain}) for task in tasks]


def write_task_records(records: Iterable[TaskRecord], path: Path) -> None:
    lines = [json.dumps(record.model_dump(mode="json", exclude_unset=True), ensure_ascii=False) for record in records]
    write_atomically(path, "".join(line + "\n" for line in lines))


def tau2_tasks_json(records: Iterable[TaskRecord]) -> str:
    """Records as an upstream `tasks.json` (same formatting as upstream's files)."""
    return json.dumps([record.to_upstream() for record in records], indent=4) + "\n"
