"""τ²-bench's Task shape, and ToolScale task records that extend it.

The models accept exactly upstream's fields (unknown ones are errors, so a format change is noticed)
and remember which fields a file set, so `import` then `export` gives back the same JSON: fields that
were absent stay absent and explicit nulls stay null. Field order follows upstream's files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict

from toolscale.atomic import write_atomically
from toolscale.engine.arguments import argument_problem
from toolscale.engine.tools import compile_tools
from toolscale.errors import ToolScaleError
from toolscale.spec.models import DomainSpec

_Model = TypeVar("_Model", bound=BaseModel)


class _Tau2(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StructuredUserInstructions(_Tau2):
    task_instructions: str
    domain: str
    reason_for_call: str
    known_info: str | None = None
    unknown_info: str | None = None


class UserScenario(_Tau2):
    persona: str | None = None
    instructions: StructuredUserInstructions | str


class Description(_Tau2):
    purpose: str | None = None
    relevant_policies: str | None = None
    notes: str | None = None


class Action(_Tau2):
    action_id: str
    requestor: Literal["user", "assistant"] | None = None
    name: str
    arguments: dict[str, Any]
    info: str | None = None
    compare_args: list[str] | None = None


class EvaluationCriteria(_Tau2):
    actions: list[Action] | None = None
    env_assertions: list[dict[str, Any]] | None = None
    communicate_info: list[str] | None = None
    nl_assertions: list[str] | None = None
    reward_basis: list[str] = ["DB", "COMMUNICATE"]


class Tau2Task(_Tau2):
    """One task of a τ²-bench `tasks.json`."""

    id: str
    description: Description | None = None
    user_scenario: UserScenario
    ticket: str | None = None
    initial_state: dict[str, Any] | None = None
    evaluation_criteria: EvaluationCriteria | None = None
    issues: list[dict[str, Any]] | None = None

    def to_upstream(self) -> dict[str, Any]:
        """The task as upstream writes it: only the fields that were set."""
        data: dict[str, Any] = self.model_dump(mode="json", exclude_unset=True)
        return data

    @property
    def actions(self) -> list[Action]:
        return list(self.evaluation_criteria.actions or []) if self.evaluation_criteria else []


class TaskRecord(Tau2Task):
    """A task of a ToolScale domain: the τ² task extended with the domain it runs in (and, in
    `toolscale.tasks.record`, everything synthesis knows about it)."""

    domain: str

    def to_upstream(self) -> dict[str, Any]:
        """Upstream's fields only: the extensions stay behind."""
        return {key: value for key, value in super().to_upstream().items() if key in Tau2Task.model_fields}


# A tasks.json nests a few levels (task, criteria, actions, arguments): far more is not a task file.
_MAX_DEPTH = 64


class TaskFileError(ToolScaleError, ValueError):
    """A task file that cannot be read; the message names the file, the task and the reason."""


def read_tau2_tasks(path: Path) -> list[Tau2Task]:
    """The tasks of an upstream `tasks.json` (a JSON array of tasks)."""
    data = _json(path, _read_text(path, "tasks"), "")
    if not isinstance(data, list):
        raise TaskFileError(f"{path}: expected a JSON array of tasks, found {type(data).__name__}")
    tasks = [_validate(Tau2Task, item, f"{path}: task [{index}]") for index, item in enumerate(data)]
    _refuse_repeated_ids(path, [task.id for task in tasks], "task")
    return tasks


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise TaskFileError(f"{path}: cannot read {what}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise TaskFileError(f"{path}: cannot read {what}: not UTF-8 text (byte {error.start})") from error


def _json(path: Path, text: str, where: str) -> Any:
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


def _refuse_repeated_ids(path: Path, ids: Sequence[str], what: str) -> None:
    repeated = sorted({task_id for task_id in ids if ids.count(task_id) > 1})
    if repeated:
        raise TaskFileError(f"{path}: {what} id(s) {', '.join(map(repr, repeated))} appear more than once; ids must be unique")


def read_task_records(path: Path) -> list[TaskRecord]:
    """ToolScale task records from a JSONL file."""
    lines = _read_text(path, "task records").splitlines()
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        item = _json(path, line, f"line {number}: ")
        records.append(_validate(TaskRecord, item, f"{path}: line {number}"))
    _refuse_repeated_ids(path, [record.id for record in records], "task record")
    return records


def _validate(model: type[_Model], item: Any, where: str) -> _Model:
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
