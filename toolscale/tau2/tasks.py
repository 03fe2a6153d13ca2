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
from toolscale.engine.arguments import argument_problem
from toolscale.engine.tools import compile_tools
from toolscale.errors import ToolScaleError
from toolscale.spec.models import DomainSpec
from toolscale.tasks.upstream import TaskRecord, Tau2Task

_Model = TypeVar("_Model", bound=BaseModel)


# A tasks.json nests a few levels (task, criteria, actions, arguments): far more is not a task file.
_MAX_DEPTH = 64


class TaskFileError(ToolScaleError, ValueError):
    """A task file that cannot be read; the message names the file, the task and the reason."""


def read_tau2_tasks(path: Path) -> list[Tau2Task]:
    """The tasks of an upstream `tasks.json` (a JSON array of tasks)."""
    data = json_value(path, read_text(path, "tasks"), "")
    if not isinstance(data, list):
        raise TaskFileError(f"{path}: expected a JSON array of tasks, found {type(data).__name__}")
    tasks = [validated(Tau2Task, item, f"{path}: task [{index}]") for index, item in enumerate(data)]
    refuse_repeated_ids(path, [task.id for task in tasks], "task")
    return tasks


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise TaskFileError(f"{path}: cannot read {what}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise TaskFileError(f"{path}: cannot read {what}: not UTF-8 text (byte {error.start})") from error


def json_value(path: Path, text: str, where: str) -> Any:
    """The JSON value of `text`, refused when it nests too deep or holds what JSON text cannot carry
    (lone surrogates such as "\\udfff", NaN, Infinity)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise TaskFileError(f"{path}: {where}not JSON: {error}") from error
    except RecursionError as error:
        raise TaskFileError(f"{path}: {where}nests too deep to read") from error
    problem = argument_problem(data, max_depth=_MAX_DEPTH)
    if problem is not None:
        raise TaskFileError(f"{path}: {where}{problem}")
    return data


def refuse_repeated_ids(path: Path, ids: Sequence[str], what: str) -> None:
    repeated = sorted({task_id for task_id in ids if ids.count(task_id) > 1})
    if repeated:
        raise TaskFileError(f"{path}: {what} id(s) {', '.join(map(repr, repeated))} appear more than once; ids must be unique")


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
