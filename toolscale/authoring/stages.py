"""The stages a domain is written in, what each one asks the model for and the JSON Schema of its answer.

Each answer is one part of the spec, shaped by the spec's own pydantic models, so the schema the model is
given and the validation its answer gets are the same definitions `toolscale spec validate` uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field

from toolscale.spec.models import Caller, Invariant, Table, Tool
from toolscale.strict import StrictModel
from toolscale.tasks.grammar import TaskGrammar

SPEC_FILE = "domain.yaml"
POLICY_FILE = "policy.md"
GRAMMAR_FILE = "grammar.yaml"


class TablesAnswer(StrictModel):
    description: str = Field(min_length=1, description="What the domain is: who calls and what the agent does for them.")
    tables: list[Table] = Field(min_length=1)


class CallerAnswer(StrictModel):
    caller: Caller


class ToolsAnswer(StrictModel):
    tools: list[Tool] = Field(min_length=1)


class PolicyAnswer(StrictModel):
    policy: str = Field(min_length=1, description="The agent's policy in Markdown.")


class GrammarAnswer(StrictModel):
    grammar: TaskGrammar
    invariants: list[Invariant] = Field(default=[], description="Rules of the populated data, as in domain.yaml.")


@dataclass(frozen=True)
class Stage:
    name: str
    answer: type[StrictModel]
    instruction: str

    def json_schema(self) -> dict[str, Any]:
        return self.answer.model_json_schema()

    def compact_schema(self) -> dict[str, Any]:
        """The schema without titles and descriptions: the shape alone, for a prompt with little room."""
        schema: dict[str, Any] = _without_prose(self.json_schema())
        return schema


def _without_prose(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _without_prose(value) for key, value in node.items() if key not in ("title", "description")}
    if isinstance(node, list):
        return [_without_prose(item) for item in node]
    return node


STAGES: tuple[Stage, ...] = (
    Stage(
        "tables",
        TablesAnswer,
        "Write the domain's description and its tables: columns with types, exactly one primary key per table, "
        "`references: table.column` for foreign keys (the referenced table declared earlier), enums, checks with "
        "the message a failed write shows, and a value generator for every column (or fixed `data` rows for a "
        "catalogue). The table of the people who call gets `rows`; child tables are generated per parent row by "
        "a `reference` generator.",
    ),
    Stage(
        "caller",
        CallerAnswer,
        "Name the caller: the table whose rows are the people who talk to the agent, and the columns of it they "
        "know about themselves and can say to prove who they are (names, email, phone; never internal ids).",
    ),
    Stage(
        "tools",
        ToolsAnswer,
        "Write the tools as parameterized SQL. Read tools: preconditions and a result query, no effects. Write "
        "tools: preconditions (each a SELECT that must return a row, with the error the agent reads), effects "
        "(INSERT, UPDATE or DELETE with bound :name parameters) and a result query. Every parameter a statement "
        "uses is declared in `parameters.properties` and every declared one is used; :now and :today are the "
        "clock. Include read tools that find the caller's id from the columns they know.",
    ),
    Stage(
        "policy",
        PolicyAnswer,
        "Write the agent's policy in Markdown with the sections `## Authentication` (which of the lookup tools, "
        "named in backticks, identify the caller), `## Confirmations` (what is confirmed before a write) and "
        "`## Refusals` (what is refused, consistent with the tools' preconditions). Name tools only as they are "
        "declared.",
    ),
    Stage(
        "grammar",
        GrammarAnswer,
        "Write the task grammar and the invariants. The grammar's goals name write tools (or read tools with "
        "`tell`), each with a `candidates` SELECT proposing argument rows for the caller bound as :caller_id, "
        "value pools for the other arguments and several phrasings of the ask; `mentions` give, per table, how "
        "a caller names a row; `refusals` are asks the tools refuse with the reason. Invariants are SELECTs "
        "returning the rows that break a rule of the populated data (none must be returned).",
    ),
)


def stage(name: str) -> Stage:
    return next(item for item in STAGES if item.name == name)
