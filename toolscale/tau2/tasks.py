"""τ²-bench's Task shape, and ToolScale task records that extend it.

The models follow upstream's Task model field by field, with its defaults (an action's requestor is
"assistant" unless said otherwise) and its value sets (reward_basis, issue status, environment types).
Unknown fields are kept, where upstream ignores them, so a file of a newer upstream still loads and
round-trips. The models remember which fields a file set, so `import` then `export` gives back the
same JSON: fields that were absent stay absent and explicit nulls stay null. Field order follows
upstream's files. tests/data/tau2/task.schema.json is the JSON Schema of upstream's own Task model;
the tests validate every export against it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict

from toolscale.atomic import write_atomically
from toolscale.engine.tools import compile_tools
from toolscale.spec.models import DomainSpec

_Model = TypeVar("_Model", bound=BaseModel)


class _Tau2(BaseModel):
    model_config = ConfigDict(extra="allow")


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


Requestor = Literal["user", "assistant"]
RewardType = Literal["DB", "ENV_ASSERTION", "NL_ASSERTION", "ACTION", "COMMUNICATE"]


class Action(_Tau2):
    action_id: str
    requestor: Requestor = "assistant"
    name: str
    arguments: dict[str, Any]
    info: str | None = None
    compare_args: list[str] | None = None


class EnvFunctionCall(_Tau2):
    env_type: Requestor
    func_name: str
    arguments: dict[str, Any]


class EnvAssertion(EnvFunctionCall):
    assert_value: bool = True
    message: str | None = None


class EvaluationCriteria(_Tau2):
    actions: list[Action] | None = None
    env_assertions: list[EnvAssertion] | None = None
    communicate_info: list[str] | None = None
    nl_assertions: list[str] | None = None
    reward_basis: list[RewardType] = ["DB", "COMMUNICATE"]


class InitializationData(_Tau2):
    agent_data: dict[str, Any] | None = None
    user_data: dict[str, Any] | None = None


class InitialState(_Tau2):
    initialization_data: InitializationData | None = None
    initialization_actions: list[EnvFunctionCall] | None = None
    # Upstream's chat messages (system, user, assistant, tool); kept as they are, not interpreted here.
    message_history: list[dict[str, Any]] | None = None


class TaskIssue(_Tau2):
    id: str
    title: str
    description: str | None = None
    status: Literal["open", "resolved", "wont_fix"] = "open"
    resolution: str | None = None
    created_at: str | None = None
    resolved_at: str | None = None
    author_email: str | None = None
    pr_link: str | None = None
    simulation_file: str | None = None


class Tau2Task(_Tau2):
    """One task of a τ²-bench `tasks.json`."""

    id: str
    description: Description | None = None
    user_scenario: UserScenario
    ticket: str | None = None
    initial_state: InitialState | None = None
    evaluation_criteria: EvaluationCriteria | None = None
    issues: list[TaskIssue] | None = None
    required_documents: list[str] | None = None
    user_tools: list[str] | None = None

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
        extensions = type(self).model_fields.keys() - Tau2Task.model_fields.keys()
        return {key: value for key, value in super().to_upstream().items() if key not in extensions}


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
