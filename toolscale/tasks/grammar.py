"""A domain's task grammar, `domains/<name>/grammar.yaml`: what its callers ask for, as data.

The grammar names, per table, how callers mention their own rows in their own words ("my savings
account ending 4821"), and per goal a write tool with a query that proposes arguments for a caller,
the free values to draw, and how the caller asks for it, in several phrasings. A goal whose tool is
a read only asks to be told something (an information task); `refusals` are asks a tool's rules
forbid, which the agent must decline. Synthesis needs nothing else of a domain.
"""

from __future__ import annotations

import functools
import string
from pathlib import Path
from typing import Annotated, Any

import pydantic
from pydantic import Field

from toolscale.domain.checks import CLOCK_PARAMETERS, query_problems
from toolscale.populate.fakes import FakerError, faker_sample
from toolscale.spec.errors import SpecError, SpecIssue, format_location
from toolscale.spec.models import DomainSpec, Identifier, JsonScalar
from toolscale.strict import StrictModel
from toolscale.yamlfile import YamlFileError, read_yaml_file

GRAMMAR_FILE = "grammar.yaml"
CALLER_PARAMETER = "caller_id"  # bound in candidate queries to the sampled caller's id


# One phrasing, or several that say the same thing: synthesis draws one per task.
Phrasings = str | Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]


def phrasings(value: Phrasings) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


class FakerPool(StrictModel):
    """Values from a Faker provider: a pool drawn once (seeded), each task picks one of it."""

    faker: str = Field(description="The provider, e.g. company, numerify.")
    args: dict[str, JsonScalar] = Field(default={}, description="Its keyword arguments, e.g. {text: '555-###-####'}.")
    size: int = Field(default=200, ge=1, le=5000, description="How many values the pool holds.")
    locale: str = "en_US"


class RangePool(StrictModel):
    """A number from low to high (both included) in steps of `step`, e.g. amounts in whole dollars."""

    between: tuple[float, float]
    step: float = Field(default=1, gt=0)


ValuePool = Annotated[list[JsonScalar], Field(min_length=1)] | FakerPool | RangePool


class Lookup(StrictModel):
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


class Goal(StrictModel):
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
    values: dict[Identifier, ValuePool] = Field(
        default={},
        description="Free parameters and the values one is drawn from: a list, {faker: provider, args: {...}} or "
        "{between: [low, high], step: s}.",
    )
    lookups: list[Lookup] = Field(default=[], description="Reads made, in order, after the ids are discovered.")
    ask: Phrasings = Field(
        description="What the caller asks for, in their words (one phrasing or several, each naming the same "
        "{fields}); {parameter} renders its value as people say it, or the row it names through the table's "
        "mention; {count:night} renders '1 night' or '3 nights', {count:person|people} an irregular plural.",
    )
    tell: dict[Identifier, Phrasings] = Field(
        default={},
        description="Result keys (of the output object, or of an object inside it) the agent must tell the caller "
        "(they become communicate_info), each as a noun "
        "phrase naming what the caller wants to hear; {parameter} renders as in `ask`, e.g. "
        "{from_balance: 'the balance left in your {from_account_id}'}. A goal whose tool is a read is an "
        "information goal: it needs `tell`, and its task makes no write.",
    )

    @property
    def asks(self) -> tuple[str, ...]:
        return phrasings(self.ask)


class Refusal(StrictModel):
    """An ask the caller makes that a tool's rules forbid: the agent must decline it and do the rest.

    Synthesis proposes rows with `candidates` and keeps one only if the tool really refuses it, both
    before and after the task's allowed writes."""

    tool: Identifier
    candidates: str = Field(min_length=1, description="A SELECT proposing argument rows the tool should refuse.")
    context: list[Identifier] = Field(default=[], description="Candidate columns that are words for the ask only.")
    values: dict[Identifier, ValuePool] = Field(default={}, description="Free parameters, as in goals.")
    ask: Phrasings = Field(description="The forbidden ask in the caller's words, as in goals.")
    because: str = Field(min_length=1, description="Why it is not allowed, for the nl_assertion a judge grades.")

    @property
    def asks(self) -> tuple[str, ...]:
        return phrasings(self.ask)


class TaskGrammar(StrictModel):
    mentions: dict[Identifier, Phrasings] = Field(
        default={},
        description="Per table, how a caller names one of its rows, e.g. '{kind} account ending {number_last4}' "
        "(several phrasings: one is drawn per mention).",
    )
    goals: list[Goal] = Field(min_length=1)
    refusals: list[Refusal] = Field(default=[], description="Asks the policy and the tools forbid.")


@functools.lru_cache(maxsize=4096)
def template_fields(template: str) -> tuple[str, ...]:
    """The {names} a template fills in (asked of every phrasing on every candidate: parsed once)."""
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name is not None)


def _counted(value: str, noun: str) -> str:
    """A format spec is a noun counted by the value: {nights:night} is '1 night' or '2 nights',
    {guests:guest|guests}, {seats:person|people}."""
    if not noun:
        return value
    one, _, many = noun.partition("|")
    return f"{value} {one if value == '1' else many or one + 's'}"


@functools.lru_cache(maxsize=4096)
def _parts(template: str) -> tuple[tuple[str, str | None, str], ...]:
    """A phrasing as (text, field, noun) parts, parsed once: filling runs for every ask, tell and mention."""
    parts = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        if conversion is not None or (spec and "{" in spec):
            raise ValueError(f"{template!r}: a field takes a noun to count, not a conversion or a nested field")
        parts.append((literal, name, spec or ""))
    return tuple(parts)


def fill(template: str, words: dict[str, str]) -> str:
    """A phrasing with its {fields} replaced by the words for their values (a missing one is a KeyError)."""
    return "".join(literal if name is None else literal + _counted(words[name], noun) for literal, name, noun in _parts(template))


def _phrasing_problems(
    where: tuple[str | int, ...], texts: tuple[str, ...], allowed: set[str], owner: str
) -> list[tuple[tuple[str | int, ...], str]]:
    """Fields no phrasing may name, and phrasings that name other fields than the first one does."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    first = set(template_fields(texts[0]))
    for number, text in enumerate(texts):
        location = where if len(texts) == 1 else (*where, number)
        try:
            _parts(text)
        except ValueError as error:
            problems.append((location, str(error)))
            continue
        fields = template_fields(text)
        for name in fields:
            if name not in allowed:
                problems.append((location, f"{{{name}}} is not a parameter of {owner} nor a context column"))
        if set(fields) != first:
            problems.append((location, f"names {sorted(set(fields))}, not the same fields as the first phrasing {sorted(first)}"))
    return problems


def _pool_problems(where: tuple[str | int, ...], pools: dict[str, ValuePool]) -> list[tuple[tuple[str | int, ...], str]]:
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for name, pool in pools.items():
        if isinstance(pool, FakerPool):
            try:
                faker_sample(pool.locale, pool.faker, dict(pool.args))
            except FakerError as error:
                problems.append(((*where, "values", name), str(error)))
        elif isinstance(pool, RangePool) and pool.between[0] > pool.between[1]:
            problems.append(((*where, "values", name), "'between' must be [low, high] with low <= high"))
    return problems


def grammar_problems(grammar: TaskGrammar, spec: DomainSpec) -> list[tuple[tuple[str | int, ...], str]]:
    """References the grammar makes to tables, columns, tools and parameters that do not exist."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for table_name, templates in grammar.mentions.items():
        table = spec.table(table_name)
        if table is None:
            problems.append((("mentions", table_name), f"unknown table {table_name!r}"))
            continue
        for template in phrasings(templates):
            try:
                _parts(template)
            except ValueError as error:
                problems.append((("mentions", table_name), str(error)))
                continue
            for name in template_fields(template):
                if table.column(name) is None:
                    problems.append((("mentions", table_name), f"table {table_name!r} has no column {name!r}"))
    for index, goal in enumerate(grammar.goals):
        where: tuple[str | int, ...] = ("goals", index)
        tool = spec.tool(goal.tool)
        if tool is None or (tool.kind != "write" and not goal.tell):
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
                if name in template_fields(goal.asks[0]) or name in goal.values:
                    problems.append(((*location, "bind", name), f"{name!r} is looked up, so the caller cannot say it"))
        problems += _phrasing_problems((*where, "ask"), goal.asks, words, goal.tool)
        for key, phrase in goal.tell.items():
            problems += _phrasing_problems((*where, "tell", key), phrasings(phrase), words, goal.tool)
        problems += _pool_problems(where, goal.values)
    for index, refusal in enumerate(grammar.refusals):
        where = ("refusals", index)
        tool = spec.tool(refusal.tool)
        if tool is None or tool.kind != "write":
            problems.append(((*where, "tool"), f"{refusal.tool!r} is not a write tool of domain {spec.name!r}"))
            continue
        parameters = set(tool.parameters.properties)
        for name in refusal.values:
            if name not in parameters:
                problems.append(((*where, "values", name), f"{refusal.tool} has no parameter {name!r}"))
        problems += _phrasing_problems((*where, "ask"), refusal.asks, parameters | set(refusal.context), refusal.tool)
        problems += _pool_problems(where, refusal.values)
    return problems


def load_grammar(path: Path, spec: DomainSpec) -> TaskGrammar:
    """Read and check a task grammar; raise SpecError naming the file, the place and the reason."""
    try:
        data: Any = read_yaml_file(path)
    except YamlFileError as error:
        raise SpecError([SpecIssue(path, error.where or "(file)", error.reason)]) from error
    try:
        grammar = TaskGrammar.model_validate(data)
    except pydantic.ValidationError as error:
        raise SpecError([SpecIssue(path, format_location(detail["loc"]), detail["msg"]) for detail in error.errors()]) from error
    problems = grammar_problems(grammar, spec)
    candidates = [(("goals", index, "candidates"), goal.candidates) for index, goal in enumerate(grammar.goals)]
    candidates += [(("refusals", index, "candidates"), refusal.candidates) for index, refusal in enumerate(grammar.refusals)]
    problems += query_problems(spec, candidates, {CALLER_PARAMETER, *CLOCK_PARAMETERS})
    if problems:
        raise SpecError([SpecIssue(path, format_location(location), reason) for location, reason in problems])
    return grammar
