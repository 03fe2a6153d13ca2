"""τ²-bench's Task shape, and ToolScale task records that extend it.

The models follow upstream's Task model field by field, with its defaults (an action's requestor is
"assistant" unless said otherwise) and its value sets (reward_basis, issue status, environment types).
Unknown fields are kept, where upstream ignores them, so a file of a newer upstream still loads and
round-trips. The models remember which fields a file set, so `toolscale tau2 import` then `export` gives
back the same JSON: fields that were absent stay absent and explicit nulls stay null. Field order
follows upstream's files. tests/data/tau2/task.schema.json is the JSON Schema of upstream's own Task
model; the tests validate every export against it. Reading and writing upstream's files is
toolscale.tau2's job.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


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
