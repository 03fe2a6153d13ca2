"""A domain's task grammar, `domains/<name>/tasks.yaml`: what its callers ask for, as data.

The grammar names, per table, how callers mention their own rows in their own words ("my savings
account ending 4821"), and per goal a write tool with a query that proposes arguments for a caller,
the free values to draw, and how the caller asks for it. Synthesis needs nothing else of a domain.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Annotated, Any

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from toolscale.domain.checks import CLOCK_PARAMETERS, query_problems
from toolscale.spec.errors import SpecError, SpecIssue, format_location
from toolscale.spec.models import DomainSpec, Identifier, JsonScalar
from toolscale.yamlfile import load_yaml, read_yaml_text

GRAMMAR_FILE = "tasks.yaml"
CALLER_PARAMETER = "caller_id"  # bound in candidate queries to the sampled caller's id


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Lookup(_Strict):
    """A read the agent must make before the write: to check something, or to decide a value."""

    tool: Identifier
    arguments: dict[Identifier, Identifier] = Field(
        description="The read's parameters, each from the goal argument of that name (the caller's id included)."
    )
    bind: dict[Identifier, Identifier] = Field(
        default={},
        description="Goal arguments taken from the read's output (output key per argument; the first row of a "
        "list): the caller does not say them, the agent must look them up, e.g. {amount: balance} to move a "
        "whole balance, or {train_id: train_id} to book the first train a search finds.",
    )


class Goal(_Strict):
    """One thing a caller may want done: a write tool and how to find arguments it accepts."""

    tool: Identifier
    candidates: str = Field(
        min_length=1,
        description="A SELECT over the domain's tables, with :caller_id, :now and :today bound, whose columns are the tool's "
        "parameters and whose rows are argument sets to try (their preconditions are checked by calling the tool).",
    )
    context: list[Identifier] = Field(
        default=[],
        description="Candidate-query columns that are not the tool's parameters: words for the ask and inputs for "
        "lookups (e.g. the stations and date to search trains by), never passed to the write.",
    )
    values: dict[Identifier, Annotated[list[JsonScalar], Field(min_length=1)]] = Field(
        default={}, description="Free parameters and the values one is drawn from."
    )
    lookups: list[Lookup] = Field(default=[], description="Reads made, in order, after the ids are discovered.")
    ask: str = Field(
        min_length=1,
        description="What the caller asks for, in their words; {parameter} renders its value, or the row it "
        "names through the table's mention.",
    )
    tell: dict[Identifier, str] = Field(
        default={},
        description="Result keys the agent must tell the caller (they become communicate_info), with how the "
        "caller asks for each; {parameter} renders as in `ask`, e.g. {from_balance: 'what is left in your {from_account_id}'}.",
    )


class TaskGrammar(_Strict):
    mentions: dict[Identifier, str] = Field(
        default={},
        description="Per table, how a caller names one of its rows, e.g. '{kind} account ending {number_last4}'.",
    )
    goals: list[Goal] = Field(min_length=1)


def template_fields(template: str) -> list[str]:
    """The {names} a template fills in."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


def grammar_problems(grammar: TaskGrammar, spec: DomainSpec) -> list[tuple[tuple[str | int, ...], str]]:
    """References the grammar makes to tables, columns, tools and parameters that do not exist."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for table_name, template in grammar.mentions.items():
        table = spec.table(table_name)
        if table is None:
            problems.append((("mentions", table_name), f"unknown table {table_name!r}"))
            continue
        for name in template_fields(template):
            if table.column(name) is None:
                problems.append((("mentions", table_name), f"table {table_name!r} has no column {name!r}"))
    caller = spec.table(spec.caller.table)
    assert caller is not None
    for index, goal in enumerate(grammar.goals):
        where: tuple[str | int, ...] = ("goals", index)
        tool = spec.tool(goal.tool)
        if tool is None or tool.kind != "write":
            problems.append(((*where, "tool"), f"{goal.tool!r} is not a write tool of domain {spec.name!r}"))
            continue
        parameters = set(tool.parameters.properties)
        for name in goal.context:
            if name in parameters:
                problems.append(((*where, "context", name), f"{name!r} is a parameter of {goal.tool}, not context"))
        words = parameters | set(goal.context)
        for name in goal.values:
            if name not in parameters:
                problems.append(((*where, "values", name), f"{goal.tool} has no parameter {name!r}"))
        for lookup_index, lookup in enumerate(goal.lookups):
            read = spec.tool(lookup.tool)
            location = (*where, "lookups", lookup_index)
            if read is None or read.kind != "read":
                problems.append(((*location, "tool"), f"{lookup.tool!r} is not a read tool of domain {spec.name!r}"))
                continue
            for parameter, source in lookup.arguments.items():
                if parameter not in read.parameters.properties:
                    problems.append(((*location, "arguments", parameter), f"{lookup.tool} has no parameter {parameter!r}"))
                if source not in words:
                    problems.append(
                        ((*location, "arguments", parameter), f"{source!r} is neither a parameter of {goal.tool} nor context")
                    )
            for name in lookup.bind:
                if name not in parameters:
                    problems.append(((*location, "bind", name), f"{goal.tool} has no parameter {name!r}"))
                if name in template_fields(goal.ask) or name in goal.values:
                    problems.append(((*location, "bind", name), f"{name!r} is looked up, so the caller cannot say it"))
        for name in template_fields(goal.ask):
            if name not in words:
                problems.append(((*where, "ask"), f"{{{name}}} is not a parameter of {goal.tool} nor a context column"))
        for key, phrase in goal.tell.items():
            for name in template_fields(phrase):
                if name not in words:
                    problems.append(((*where, "tell", key), f"{{{name}}} is not a parameter of {goal.tool} nor a context column"))
    return problems


def load_grammar(path: Path, spec: DomainSpec) -> TaskGrammar:
    """Read and check a task grammar; raise SpecError naming the file, the place and the reason."""
    try:
        data: Any = load_yaml(read_yaml_text(path))
    except OSError as error:
        raise SpecError([SpecIssue(path, "(file)", f"cannot read: {error.strerror}")]) from error
    except ValueError as error:
        raise SpecError([SpecIssue(path, "(file)", str(error))]) from error
    except yaml.YAMLError as error:
        raise SpecError([SpecIssue(path, "(file)", f"invalid YAML: {error}")]) from error
    try:
        grammar = TaskGrammar.model_validate(data)
    except pydantic.ValidationError as error:
        raise SpecError([SpecIssue(path, format_location(detail["loc"]), detail["msg"]) for detail in error.errors()]) from error
    problems = grammar_problems(grammar, spec)
    candidates = [(("goals", index, "candidates"), goal.candidates) for index, goal in enumerate(grammar.goals)]
    problems += query_problems(spec, candidates, {CALLER_PARAMETER, *CLOCK_PARAMETERS})
    if problems:
        raise SpecError([SpecIssue(path, format_location(location), reason) for location, reason in problems])
    return grammar
