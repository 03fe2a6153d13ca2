"""Offline, deterministic task synthesis: a caller, goals, the reads that discover every id, a scenario.

Each candidate `index` draws from its own RNG seeded by (seed, index), so any slice of candidates can
be made independently (by shard, by worker) and always comes out the same. The arguments of every
write are found by querying the database and confirmed by calling the tool on the candidate's own
episode; the ids the agent needs are discovered by the domain's read tools, found generically by
matching their outputs, never by per-domain code.
"""

from __future__ import annotations

import functools
import json
import math
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from toolscale.engine.database import DomainDatabase
from toolscale.engine.environment import Environment
from toolscale.engine.tools import CompiledTool
from toolscale.resources import data_dir
from toolscale.tasks.grammar import CALLER_PARAMETER, Goal, Lookup, TaskGrammar, template_fields
from toolscale.tasks.preference import Preference, Pricing, SynthesisConfig, draw_preference, draw_pricing
from toolscale.tasks.verify import Action, Candidate, Observed, leaves

PROMPTS_DIR = data_dir("prompts")
SCENARIO_TEMPLATE = "scenario.j2"  # one block per field of the scenario
# Argument rows tried per goal before another goal is drawn.
ROWS_PER_GOAL = 6
GOAL_DRAWS = 4


@dataclass(frozen=True)
class Scenario:
    reason_for_call: str
    known_info: str
    unknown_info: str
    task_instructions: str

    @property
    def text(self) -> str:
        """What the simulated user is given and may say: everything but what they do not know."""
        return "\n".join((self.reason_for_call, self.known_info, self.task_instructions))


@dataclass(frozen=True)
class SynthesizedTask:
    index: int
    caller_id: str
    goals: tuple[str, ...]  # write tools, in order
    actions: tuple[Action, ...]
    scenario: Scenario
    communicate_info: tuple[str, ...]
    pricing: Pricing
    preference: Preference
    observed: Observed | None = None  # the outputs and final state synthesis saw
    conditional: bool = False  # a write was asked for only if a value read during the task was low

    @property
    def candidate(self) -> Candidate:
        """For the verifier; synthesis's own execution is the run its replay must reproduce."""
        return Candidate(self.actions, self.scenario.text, self.communicate_info, self.observed)


@dataclass(frozen=True)
class _Step:
    """A goal done (or, for an untaken conditional branch, only worded)."""

    tool: str
    ask: str
    tells: tuple[tuple[str, Any], ...]  # (how the caller asks for it, the value the agent must tell)


@dataclass(frozen=True)
class _Mention:
    template: str
    columns: tuple[str, ...]
    lookup: str  # the row by its key
    preferred: bool  # the table's key is named like the parameter


@dataclass(frozen=True)
class _Condition:
    text: str
    holds: bool


@dataclass
class _Episode:
    """The state of one candidate under construction."""

    env: Environment
    caller_id: str
    actions: list[Action] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)
    revealed: list[frozenset[Any]] = field(default_factory=list)  # the scalars of each output
    # Reads made since the last write, by tool and arguments: (output, its scalars), None if it failed. A read
    # on the same state gives the same output, and each argument row a goal tries discovers its ids anew.
    reads: dict[tuple[str, str], tuple[Any, frozenset[Any]] | None] = field(default_factory=dict)

    def call(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        key = (tool, json.dumps(arguments, sort_keys=True))
        if key in self.reads:
            made = self.reads[key]
        else:
            observation = self.env.call(tool, dict(arguments))
            made = (observation.output, frozenset(leaves(observation.output))) if observation.ok else None
            if not self.env.tools[tool].writes:
                self.reads[key] = made
            elif made is not None:
                self.reads.clear()
        if made is None:
            return None
        output, revealed = made
        self.actions.append(Action(tool, dict(arguments)))
        self.outputs.append(output)
        self.revealed.append(revealed)
        return output

    def undo_since(self, count: int) -> None:
        """Forget the actions after the first `count` (reads, or a write that was not made)."""
        del self.actions[count:], self.outputs[count:], self.revealed[count:]

    def seen(self, value: Any) -> bool:
        return any(value in revealed for revealed in self.revealed)


class Synthesizer:
    def __init__(self, database: DomainDatabase, grammar: TaskGrammar, config: SynthesisConfig) -> None:
        self.database = database
        self.grammar = grammar
        self.config = config
        spec = database.spec
        caller = spec.table(spec.caller.table)
        assert caller is not None
        self._caller_key = caller.primary_key.name
        # Every caller's row as it is in the initial state, where each candidate starts: read once, not per candidate.
        names = [column.name for column in caller.columns]
        with database.fork() as env:
            rows = env.query(f"SELECT {', '.join(names)} FROM {caller.name} ORDER BY {self._caller_key}")
        key_index = names.index(self._caller_key)
        self._caller_rows = {row[key_index]: dict(zip(names, row, strict=True)) for row in rows}
        self._callers = list(self._caller_rows)
        tools = database.tools
        self._identify = [tool for tool in tools.values() if not tool.writes and self._identifies_caller(tool)]
        # Reads that list a caller's rows from the caller's id alone: the ones that reveal ids.
        self._listing_reads = [
            tool for tool in tools.values() if not tool.writes and list(tool.spec.parameters.required) == [self._caller_key]
        ]
        self._result_keys = self._output_keys(self._listing_reads)
        templates = SandboxedEnvironment(
            loader=FileSystemLoader(PROMPTS_DIR), undefined=StrictUndefined, autoescape=False, auto_reload=False
        )
        self._template = templates.get_template(SCENARIO_TEMPLATE)

    def _output_keys(self, tools: Sequence[CompiledTool], callers: int = 5) -> dict[str, frozenset[str]]:
        """The object keys each tool's output has, seen by calling it for the first few callers."""
        keys: dict[str, set[str]] = {tool.name: set() for tool in tools}
        with self.database.fork() as env:
            for caller_id in self._callers[:callers]:
                for tool in tools:
                    keys[tool.name].update(_keys(env.call(tool.name, {self._caller_key: caller_id}).output))
        return {name: frozenset(found) for name, found in keys.items()}

    def _identifies_caller(self, tool: CompiledTool) -> bool:
        required = set(tool.spec.parameters.required)
        return bool(required) and required <= set(self.database.spec.caller.known) and tool.spec.result is not None

    def synthesize(self, seed: int, indices: Iterable[int]) -> Iterator[SynthesizedTask | None]:
        """One task per index (None where no goal could be met for the drawn caller)."""
        for index in indices:
            yield self.one(random.Random(f"{self.database.spec.name}:{seed}:{index}"), index)

    def one(self, rng: random.Random, index: int) -> SynthesizedTask | None:
        caller_id = rng.choice(self._callers)
        writes = rng.choices(list(self.config.writes), weights=list(self.config.writes.values()))[0]
        pricing = draw_pricing(rng, self.config.pricing)
        preference = draw_preference(rng, pricing, self.config.preference)
        with self.database.fork() as env:
            episode = _Episode(env, caller_id)
            facts = self._authenticate(rng, episode)
            if facts is None:
                return None
            asks: list[str] = []
            tells: list[str] = []
            info: list[str] = []
            goals: list[str] = []
            conditional = False
            last: _Step | None = None
            while len(goals) < writes:
                condition = self._condition(rng, last)
                if condition is not None and not condition.holds:
                    # The caller asks for something only if a value the agent reads is low; it is not, so the
                    # gold actions stop here and a correct agent must not do it.
                    step = self._pursue(rng, episode, execute=False)
                    if step is not None:
                        asks.append(f"{condition.text}, also {step.ask} (otherwise nothing more)")
                        conditional = True
                    break
                step = self._pursue(rng, episode)
                if step is None:
                    break
                asks.append(step.ask if condition is None else f"{condition.text}, also {step.ask}")
                conditional = conditional or condition is not None
                goals.append(step.tool)
                for phrase, value in step.tells:
                    tells.append(phrase)
                    info.append(_spoken(value))
                last = step
            if not goals:
                return None
            observed = Observed(tuple(episode.outputs), env.state_hash())
        scenario = self._render(facts, asks, tells, preference.statement)
        return SynthesizedTask(
            index,
            caller_id,
            tuple(goals),
            tuple(episode.actions),
            scenario,
            tuple(info),
            pricing,
            preference,
            observed,
            conditional,
        )

    def _condition(self, rng: random.Random, last: _Step | None) -> _Condition | None:
        """Maybe make the next write depend on a value the previous one reported: 'if it is below T'.

        Only the step just done counts: a value reported earlier may have changed since.
        """
        if last is None or not last.tells or rng.random() >= self.config.conditional:
            return None
        phrase, value = last.tells[-1]
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        holds = rng.random() < 0.5
        threshold = math.ceil(value * 1.5 / 10) * 10 + 10 if holds else math.floor(value * 0.5 / 10) * 10
        if threshold <= 0:
            return None
        return _Condition(text=f"if {phrase} is then below {threshold}", holds=value < threshold)

    # -- steps -----------------------------------------------------------------------------------

    def _authenticate(self, rng: random.Random, episode: _Episode) -> list[tuple[str, Any]] | None:
        """Identify the caller from facts they know, with one identification tool; the facts they state."""
        caller = self._caller_rows[episode.caller_id]
        for tool in rng.sample(self._identify, len(self._identify)):
            arguments = {name: caller[name] for name in tool.spec.parameters.required}
            if episode.call(tool.name, arguments) != episode.caller_id:
                episode.undo_since(0)  # these facts find someone else (or no one): try another tool
                continue
            # The caller also mentions a few other facts, as people do, so that the one used varies.
            extra = [name for name in self.database.spec.caller.known if name not in arguments]
            stated = [*arguments, *rng.sample(extra, min(len(extra), rng.randint(0, 2)))]
            return [(name, caller[name]) for name in stated]
        return None

    def _pursue(self, rng: random.Random, episode: _Episode, *, execute: bool = True) -> _Step | None:
        """Draw a goal the caller can have now, discover its ids and do it (or only word it)."""
        for goal in rng.sample(self.grammar.goals, min(GOAL_DRAWS, len(self.grammar.goals))):
            if not execute and goal.lookups:
                continue  # a lookup's bound values exist only once it runs
            rows = episode.env.records(goal.candidates, {CALLER_PARAMETER: episode.caller_id} | self.database.layout.clock)
            for row in rng.sample(rows, min(ROWS_PER_GOAL, len(rows))):
                arguments = self._arguments(rng, goal, row, episode)
                # Words first: a write may delete the row the caller names.
                words, mentioned = self._words(goal, arguments, episode.env)
                if not execute:
                    return _Step(goal.tool, goal.ask.format_map(words), ())
                output = self._attempt(episode, goal, arguments, mentioned)
                if output is None:
                    continue
                tells = tuple(
                    (phrase.format_map(words), output[key])
                    for key, phrase in goal.tell.items()
                    if isinstance(output, Mapping) and output.get(key) is not None
                )
                return _Step(goal.tool, goal.ask.format_map(words), tells)
        return None

    def _arguments(self, rng: random.Random, goal: Goal, row: Mapping[str, Any], episode: _Episode) -> dict[str, Any]:
        """The goal's values: the write's arguments and its context columns (words and lookup inputs)."""
        arguments = {name: value for name, value in row.items() if value is not None}
        if self._caller_key in self.database.tools[goal.tool].parameter_names:
            arguments[self._caller_key] = episode.caller_id
        for name, choices in goal.values.items():
            arguments[name] = rng.choice(choices)
        return arguments

    def _attempt(self, episode: _Episode, goal: Goal, arguments: dict[str, Any], mentioned: set[str]) -> Any:
        """Discover the ids the write needs, make its lookups, then the write; nothing is kept on failure."""
        kept = len(episode.actions)
        output = None
        parameters = self.database.tools[goal.tool].parameter_names
        # One read may reveal several ids: each is looked for only if still unseen.
        needed = self._ids_to_discover(goal, arguments, episode, mentioned)
        if all(episode.seen(value) or self._discover(episode, name, value) for name, value in needed) and all(
            self._look_up(episode, lookup, arguments) for lookup in goal.lookups
        ):
            output = episode.call(goal.tool, {name: value for name, value in arguments.items() if name in parameters})
        if output is None:
            episode.undo_since(kept)
        return output

    @staticmethod
    def _look_up(episode: _Episode, lookup: Lookup, arguments: dict[str, Any]) -> bool:
        """Make the read; copy the values it decides into the goal's arguments (from its first row, for a list)."""
        output = episode.call(lookup.tool, {parameter: arguments.get(source) for parameter, source in lookup.arguments.items()})
        if isinstance(output, list) and lookup.bind:
            output = output[0] if output else None
        if output is None or (lookup.bind and not isinstance(output, Mapping)):
            return False
        for name, key in lookup.bind.items():
            if output.get(key) is None:
                return False
            arguments[name] = output[key]
        return True

    def _ids_to_discover(
        self, goal: Goal, arguments: Mapping[str, Any], episode: _Episode, mentioned: set[str]
    ) -> list[tuple[str, Any]]:
        """Argument values the caller does not say (ids), which an earlier output must reveal.

        The caller says the drawn free values and what the ask renders as is; a row the ask names by
        its mention ("my card ending 1111") and every other argument must be discovered.
        """
        said_as_is = set(template_fields(goal.ask)) - mentioned
        looked_up = {name for lookup in goal.lookups for name in lookup.bind}
        known = set(goal.values) | said_as_is | looked_up | set(goal.context) | {self._caller_key}
        return [(name, value) for name, value in arguments.items() if name not in known and not episode.seen(value)]

    def _discover(self, episode: _Episode, parameter: str, value: Any) -> bool:
        """Call the first read tool (caller id as its only input) whose output reveals `value`.

        Tools whose results have a column named like the parameter (`account_id` for
        `from_account_id`) are tried first; the order depends only on the spec, so it is deterministic.
        """
        for tool in self._listing_reads_for(parameter):
            before = len(episode.actions)
            output = episode.call(tool.name, {self._caller_key: episode.caller_id})
            if output is not None and value in episode.revealed[-1]:
                return True
            episode.undo_since(before)
        return False

    @functools.cache  # noqa: B019 - one Synthesizer per run; the cache lives as long as it does
    def _listing_reads_for(self, parameter: str) -> tuple[CompiledTool, ...]:
        return tuple(sorted(self._listing_reads, key=lambda tool: not _names_match(parameter, self._result_keys[tool.name])))

    # -- words -----------------------------------------------------------------------------------

    def _mention_of(self, parameter: str, value: Any, env: Environment) -> str | None:
        """How the caller names the row whose key is `value`, if a table with a mention has it.

        Tables whose key is named like the parameter are tried first (`account_id` for `to_account_id`).
        """
        if not isinstance(value, str):
            return None
        for mention in self._mentions_for(parameter):
            rows = env.query(mention.lookup, (value,))
            if rows:
                return mention.template.format_map(
                    {name: _spoken(cell) for name, cell in zip(mention.columns, rows[0], strict=True)}
                )
        return None

    @functools.cache  # noqa: B019 - one Synthesizer per run; the cache lives as long as it does
    def _mentions_for(self, parameter: str) -> tuple[_Mention, ...]:
        """The grammar's mentions, tables whose key is named like the parameter first."""
        mentions = []
        for table_name, template in self.grammar.mentions.items():
            table = self.database.spec.table(table_name)
            assert table is not None
            columns = tuple(column.name for column in table.columns)
            lookup = f"SELECT {', '.join(columns)} FROM {table.name} WHERE {table.primary_key.name} = ?"
            mentions.append(_Mention(template, columns, lookup, _names_match(parameter, frozenset({table.primary_key.name}))))
        return tuple(sorted(mentions, key=lambda mention: not mention.preferred))

    def _words(self, goal: Goal, arguments: Mapping[str, Any], env: Environment) -> tuple[dict[str, str], set[str]]:
        """The values the ask and tells name, as the caller says them (a row by its mention, anything else
        as it is), and which of them the caller names by a mention rather than by their value."""
        words: dict[str, str] = {}
        mentioned: set[str] = set()
        for name in _named_values(goal.ask, tuple(goal.tell.values())):
            value = arguments.get(name)
            mention = self._mention_of(name, value, env)
            if mention is not None:
                mentioned.add(name)
            words[name] = mention if mention is not None else _spoken(value)
        return words, mentioned

    def _render(self, facts: list[tuple[str, Any]], asks: list[str], tells: list[str], preference: str | None) -> Scenario:
        spec = self.database.spec
        context = {
            "domain": spec.name,
            "asks": asks,
            "facts": [{"name": name.replace("_", " "), "value": _spoken(value)} for name, value in facts],
            "tells": tells,
            "preference": preference,
        }
        shared = self._template.new_context(context)
        return Scenario(**{name: "".join(self._template.blocks[name](shared)).strip() for name in Scenario.__dataclass_fields__})


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def _names_match(parameter: str, keys: frozenset[str]) -> bool:
    return any(parameter == key or parameter.endswith("_" + key) for key in keys)


@functools.cache
def _named_values(ask: str, tells: tuple[str, ...]) -> tuple[str, ...]:
    """The {fields} an ask and its tell phrases name, in order, once each."""
    return tuple(dict.fromkeys([*template_fields(ask), *(name for phrase in tells for name in template_fields(phrase))]))


def _spoken(value: Any) -> str:
    """A value as a person says it: 50.0 is '50', 12.5 is '12.5'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
