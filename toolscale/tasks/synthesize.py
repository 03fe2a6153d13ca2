"""Offline, deterministic task synthesis: a caller, goals, the reads that discover every id, a scenario.

Each candidate `index` draws from its own RNG seeded by (seed, index), so any slice of candidates can
be made independently (by shard, by worker) and always comes out the same. The arguments of every
write are found by querying the database and confirmed by calling the tool on the candidate's own
episode; the ids the agent needs are discovered by the domain's read tools, found generically by
matching their outputs, never by per-domain code.

A task is one of four kinds: writes; an information task (the caller only wants to hear something,
graded by communicate_info); a refusal (beside allowed writes, an ask a tool's rules forbid, which
the gold leaves undone and an nl_assertion records); a conditional (a write asked for only if a value
read during the task is below a threshold drawn close to it, on either side).
"""

from __future__ import annotations

import functools
import json
import math
import random
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2 import FileSystemLoader, StrictUndefined

from toolscale.engine.database import DomainDatabase
from toolscale.engine.environment import Environment
from toolscale.engine.tools import CompiledTool
from toolscale.populate.fakes import faker_values
from toolscale.resources import data_dir
from toolscale.tasks.grammar import (
    CALLER_PARAMETER,
    FakerPool,
    Goal,
    Lookup,
    RangePool,
    Refusal,
    TaskGrammar,
    ValuePool,
    fill,
    phrasings,
    template_fields,
)
from toolscale.tasks.preference import Preference, Pricing, SynthesisConfig, draw_preference, draw_pricing
from toolscale.tasks.record import TaskKind
from toolscale.tasks.spoken import spoken
from toolscale.tasks.verify import Action, Candidate, Observed, leaves

PROMPTS_DIR = data_dir("prompts")
SCENARIO_TEMPLATE = "scenario.j2"  # one block per field of the scenario
# Argument rows tried per goal before another goal is drawn.
ROWS_PER_GOAL = 6
GOAL_DRAWS = 4
# A value the agent must tell shorter than this (in words) is found by chance in almost any reply.
MIN_TOLD_LENGTH = 3

# How a tool turns down a forbidden ask by its rules (not an unknown tool or a malformed call).
REFUSED_BY = frozenset({"precondition", "constraint"})


@dataclass(frozen=True)
class Scenario:
    reason_for_call: str
    known_info: str
    unknown_info: str
    task_instructions: str
    persona: str = ""  # how the simulated user talks; says nothing about the task

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
    kind: TaskKind = "write"
    nl_assertions: tuple[str, ...] = ()  # what a judge of the agent's words checks: each refusal
    forbidden: tuple[Action, ...] = ()  # the writes the caller asks for that the tools refuse

    @property
    def candidate(self) -> Candidate:
        """For the verifier; synthesis's own execution is the run its replay must reproduce."""
        return Candidate(self.actions, self.scenario.text, self.communicate_info, self.observed)


@dataclass(frozen=True)
class _Step:
    """A goal done (or, for an untaken conditional branch, only worded)."""

    tool: str
    ask: str
    tells: tuple[tuple[str, Any], ...]  # (what the caller wants to hear, the value the agent must tell)


@dataclass(frozen=True)
class _Mention:
    templates: tuple[str, ...]
    columns: tuple[str, ...]
    lookup: str  # the row by its key
    preferred: bool  # the table's key is named like the parameter


@dataclass(frozen=True)
class _Condition:
    what: str  # the value, as the caller named it when asking to be told
    threshold: str
    holds: bool


@dataclass(frozen=True)
class _Refused:
    """A forbidden ask: the tool refused it on the initial state; it must still refuse at the end."""

    tool: str
    arguments: dict[str, Any]
    ask: str
    because: str


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
    pursued: set[int] = field(default_factory=set)  # the goals (by identity) drawn for this task so far

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


@functools.cache
def _scenario_template() -> jinja2.Template:
    """`prompts/scenario.j2`, compiled once per process (compiling takes longer than a hundred candidates).

    Not sandboxed: the template is the project's own file and what it renders is data (strings and numbers
    from the grammar and the database), never a template; a sandbox would guard against the template's
    authors only, and its checks on every call cost an eighth of synthesis."""
    templates = jinja2.Environment(
        loader=FileSystemLoader(PROMPTS_DIR), undefined=StrictUndefined, autoescape=False, auto_reload=False
    )
    templates.filters["pick"] = _pick
    return templates.get_template(SCENARIO_TEMPLATE)


@jinja2.pass_context
def _pick(context: jinja2.runtime.Context, phrasings: Sequence[Any], **fields: Any) -> Any:
    """The template's `phrasings | pick(**fields)`: one phrasing drawn with the task's RNG, its {fields} filled.

    A filter rather than a function in the context: Jinja calls a filter directly, a function through
    `Context.call`, which took a third of the time of a render."""
    drawn = context["rng"].choice(phrasings)
    return drawn.format(**fields) if fields else drawn


@functools.lru_cache(maxsize=1024)
def _faker_pool(key: str) -> tuple[Any, ...]:
    """A Faker pool's values (`key`: the pool as JSON), from a seed of the pool itself: the same values in every
    synthesizer, so they are made once per process, not once per unit of work."""
    pool = FakerPool.model_validate_json(key)
    made = faker_values(pool.locale, pool.faker, dict(pool.args), seed=zlib.crc32(key.encode()), count=pool.size)
    return tuple(dict.fromkeys(made))


class Synthesizer:
    def __init__(self, database: DomainDatabase, grammar: TaskGrammar, config: SynthesisConfig) -> None:
        self.database = database
        self.grammar = grammar
        self.config = config
        spec = database.spec
        caller = spec.caller_table()
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
        self._write_goals = [goal for goal in grammar.goals if tools[goal.tool].writes]
        self._questions = [goal for goal in grammar.goals if not tools[goal.tool].writes]
        self._key_lookups = [
            f"SELECT 1 FROM {table.name} WHERE {table.primary_key.name} = ?"
            for table in spec.tables
            if table.primary_key.type == "text" and table.data is None
        ]
        self._template = _scenario_template()

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
        pricing = draw_pricing(rng, self.config.pricing, self.database.spec.expert_strengths)
        preference = draw_preference(rng, pricing, self.config.preference)
        informing = bool(self._questions) and rng.random() < self.config.information
        refusing = not informing and bool(self.grammar.refusals) and rng.random() < self.config.refusal
        goals_pool, wanted = (self._questions, rng.choice((1, 1, 2))) if informing else (self._write_goals, writes)
        with self.database.fork() as env:
            episode = _Episode(env, caller_id)
            facts = self._authenticate(rng, episode)
            if facts is None:
                return None
            refused = self._refusal(rng, episode) if refusing else None
            asks: list[dict[str, Any]] = []
            told: list[tuple[str, Any]] = []
            goals: list[str] = []
            conditional = False
            last: _Step | None = None
            while len(goals) < wanted:
                condition = None if informing else self._condition(rng, last)
                if condition is not None and not condition.holds:
                    # The caller asks for something only if a value the agent reads is low; it is not, so the
                    # gold actions stop here and a correct agent must not do it.
                    step = self._pursue(rng, episode, goals_pool, execute=False)
                    if step is not None:
                        asks.append(_ask(step.ask, condition, otherwise=True))
                        conditional = True
                    break
                step = self._pursue(rng, episode, goals_pool)
                if step is None:
                    break
                asks.append(_ask(step.ask, condition))
                conditional = conditional or condition is not None
                goals.append(step.tool)
                told += step.tells
                last = step
            if not goals:
                return None
            observed = Observed(tuple(episode.outputs), env.state_hash())
            if refused is not None and not self._stays_refused(env, refused, episode.actions):
                refused = None  # the allowed writes could make it allowed: the task is asked without it
        said = " ".join([*(ask["text"] for ask in asks), *(spoken(value) for _, value in facts)])
        told = [(phrase, value) for phrase, value in told if _tellable(value, said)]
        if informing and not told:
            return None  # nothing left that proves the agent read the answer
        nl_assertions: tuple[str, ...] = ()
        if refused is not None:
            # Anywhere but between a step and the conditional ask that depends on it.
            places = [place for place in range(len(asks) + 1) if place == len(asks) or asks[place]["condition"] is None]
            asks.insert(rng.choice(places), _ask(refused.ask, None))
            nl_assertions = (_refusal_assertion(refused),)
        kind: TaskKind = (
            "information" if informing else "refusal" if refused is not None else "conditional" if conditional else "write"
        )
        scenario = self._render(rng, facts, asks, [phrase for phrase, _ in told], preference.statement, kind)
        return SynthesizedTask(
            index,
            caller_id,
            tuple(goals),
            tuple(episode.actions),
            scenario,
            tuple(_told(value) for _, value in told),
            pricing,
            preference,
            observed,
            conditional,
            kind,
            nl_assertions,
            () if refused is None else (Action(refused.tool, refused.arguments),),
        )

    def _condition(self, rng: random.Random, last: _Step | None) -> _Condition | None:
        """Maybe make the next write depend on a value the previous one reported: 'if it is below T'.

        Only the step just done counts: a value reported earlier may have changed since. T is drawn one
        or two round steps (about 5% of it) from the value, above it (the write is due) or at or below it
        (it is not), so the condition is one the domain's values can meet and a careless reading misses.
        """
        if last is None or not last.tells or rng.random() >= self.config.conditional:
            return None
        phrase, value = last.tells[-1]
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 1:
            return None
        step = max(1, 10 ** math.floor(math.log10(value)) // 20)  # 1 under 100, 5 under 1,000, 50 under 10,000
        holds = rng.random() < 0.5
        steps = rng.choice((0, 1))
        # Above the value when the write is due, at or below it when it is not.
        threshold = (math.floor(value / step) + (1 + steps if holds else -steps)) * step
        if threshold <= 0:
            return None
        return _Condition(what=phrase, threshold=spoken(round(threshold, 2)), holds=value < threshold)

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

    def _pursue(self, rng: random.Random, episode: _Episode, pool: Sequence[Goal], *, execute: bool = True) -> _Step | None:
        """Draw a goal of `pool` the caller can have now, discover its ids and do it (or only word it)."""
        for goal in rng.sample(pool, min(GOAL_DRAWS, len(pool))):
            if not execute and goal.lookups:
                continue  # a lookup's bound values exist only once it runs
            if id(goal) in episode.pursued:
                continue  # the same goal twice is a redundant write or a repeated question
            episode.pursued.add(id(goal))
            rows = episode.env.records(goal.candidates, {CALLER_PARAMETER: episode.caller_id} | self.database.layout.clock)
            for row in rng.sample(rows, min(ROWS_PER_GOAL, len(rows))):
                arguments = self._arguments(rng, goal, row, episode)
                # Words first: a write may delete the row the caller names.
                fields = _named_values(goal.asks[0], tuple(phrasings(phrase)[0] for phrase in goal.tell.values()))
                words, mentioned = self._words(rng, fields, arguments, episode.env)
                ask = fill(rng.choice(goal.asks), words)
                if not execute:
                    return _Step(goal.tool, ask, ())
                output = self._attempt(episode, goal, arguments, mentioned)
                if output is None:
                    continue
                tells = tuple(
                    (fill(rng.choice(phrasings(phrase)), words), value)
                    for key, phrase in goal.tell.items()
                    if (value := _result_value(output, key)) is not None
                )
                return _Step(goal.tool, ask, tells)
        return None

    def _refusal(self, rng: random.Random, episode: _Episode) -> _Refused | None:
        """A forbidden ask for the caller: a row the tool refuses by its rules (not for a malformed call)."""
        clock = self.database.layout.clock
        for refusal in rng.sample(self.grammar.refusals, len(self.grammar.refusals)):
            rows = episode.env.records(refusal.candidates, {CALLER_PARAMETER: episode.caller_id} | clock)
            parameters = self.database.tools[refusal.tool].parameter_names
            for row in rng.sample(rows, min(ROWS_PER_GOAL, len(rows))):
                arguments = self._arguments(rng, refusal, row, episode)
                call = {name: value for name, value in arguments.items() if name in parameters}
                # Tried on a copy of the initial state, so a tool that accepts it changes nothing of the task.
                with self.database.fork() as probe:
                    if probe.call(refusal.tool, call).reason not in REFUSED_BY:
                        continue
                words, _ = self._words(rng, _named_values(refusal.asks[0], ()), arguments, episode.env)
                return _Refused(refusal.tool, call, fill(rng.choice(refusal.asks), words), refusal.because)
        return None

    def _stays_refused(self, env: Environment, refused: _Refused, actions: Sequence[Action]) -> bool:
        """Whether the forbidden write is refused whenever the agent might try it: no allowed write touches a
        row it names, and the tool still refuses it once they are done (the episode ends here, so trying it
        changes nothing that is kept)."""
        named = {value for name, value in refused.arguments.items() if name != self._caller_key and self._is_key(env, value)}
        for action in actions:
            if self.database.tools[action.name].writes and named & set(leaves(dict(action.arguments))):
                return False
        return env.call(refused.tool, refused.arguments).reason in REFUSED_BY

    def _is_key(self, env: Environment, value: Any) -> bool:
        """Whether `value` names a row (a key of a table that is not a fixed catalogue): a plan name or a
        billing cycle two writes share does not make them touch the same row."""
        return isinstance(value, str) and any(env.query(lookup, (value,)) for lookup in self._key_lookups)

    def _arguments(self, rng: random.Random, goal: Goal | Refusal, row: Mapping[str, Any], episode: _Episode) -> dict[str, Any]:
        """The goal's values: the write's arguments and its context columns (words and lookup inputs)."""
        arguments = {name: value for name, value in row.items() if value is not None}
        if self._caller_key in self.database.tools[goal.tool].parameter_names:
            arguments[self._caller_key] = episode.caller_id
        for name, pool in goal.values.items():
            arguments[name] = self._draw(rng, pool)
        return arguments

    def _draw(self, rng: random.Random, pool: ValuePool) -> Any:
        if isinstance(pool, list):
            return rng.choice(pool)
        if isinstance(pool, RangePool):
            low, high = pool.between
            value = low + pool.step * rng.randint(0, int((high - low) // pool.step))
            whole = all(float(number).is_integer() for number in (low, pool.step))
            return int(value) if whole else round(value, 2)
        return rng.choice(_faker_pool(pool.model_dump_json()))

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
        said_as_is = set(template_fields(goal.asks[0])) - mentioned
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

    def _mention_of(self, rng: random.Random, parameter: str, value: Any, env: Environment) -> str | None:
        """How the caller names the row whose key is `value`, if a table with a mention has it.

        Tables whose key is named like the parameter are tried first (`account_id` for `to_account_id`).
        """
        if not isinstance(value, str):
            return None
        for mention in self._mentions_for(parameter):
            rows = env.query(mention.lookup, (value,))
            if rows:
                template = rng.choice(mention.templates)
                row = dict(zip(mention.columns, rows[0], strict=True))
                return fill(template, {name: spoken(row[name]) for name in template_fields(template)})
        return None

    @functools.cache  # noqa: B019 - one Synthesizer per run; the cache lives as long as it does
    def _mentions_for(self, parameter: str) -> tuple[_Mention, ...]:
        """The grammar's mentions, tables whose key is named like the parameter first."""
        mentions = []
        for table_name, templates in self.grammar.mentions.items():
            table = self.database.spec.table(table_name)
            assert table is not None
            columns = tuple(column.name for column in table.columns)
            lookup = f"SELECT {', '.join(columns)} FROM {table.name} WHERE {table.primary_key.name} = ?"
            preferred = _names_match(parameter, frozenset({table.primary_key.name}))
            mentions.append(_Mention(phrasings(templates), columns, lookup, preferred))
        return tuple(sorted(mentions, key=lambda mention: not mention.preferred))

    def _words(
        self, rng: random.Random, fields: Sequence[str], arguments: Mapping[str, Any], env: Environment
    ) -> tuple[dict[str, str], set[str]]:
        """The values the ask and tells name, as the caller says them (a row by its mention, anything else
        in words), and which of them the caller names by a mention rather than by their value."""
        words: dict[str, str] = {}
        mentioned: set[str] = set()
        for name in fields:
            value = arguments.get(name)
            mention = self._mention_of(rng, name, value, env)
            if mention is not None:
                mentioned.add(name)
            words[name] = mention if mention is not None else spoken(value)
        return words, mentioned

    def _render(
        self,
        rng: random.Random,
        facts: list[tuple[str, Any]],
        asks: list[dict[str, Any]],
        tells: list[str],
        preference: str | None,
        kind: TaskKind,
    ) -> Scenario:
        """The scenario from `prompts/scenario.j2`; its `pick` filter draws among the phrasings with `rng`."""
        spec = self.database.spec
        stated = rng.sample(facts, len(facts))  # people give what they know in no fixed order
        context = {
            "domain": spec.name,
            "asks": asks,
            "facts": [{"name": name.replace("_", " "), "value": spoken(value)} for name, value in stated],
            "tells": tells,
            "preference": preference,
            "kind": kind,
            "rng": rng,  # what the template's `pick` filter draws with
        }
        shared = self._template.new_context(context, shared=True)  # the template reads no globals
        fields = {name: "".join(self._template.blocks[name](shared)).strip() for name in Scenario.__dataclass_fields__}
        return Scenario(**{name: _sentence_case(" ".join(text.split())) for name, text in fields.items()})


def _ask(text: str, condition: _Condition | None, *, otherwise: bool = False) -> dict[str, Any]:
    """One ask as the template renders it: its words, and the condition it waits on, if any."""
    when = None if condition is None else {"what": condition.what, "threshold": condition.threshold}
    return {"text": text, "condition": when, "otherwise": otherwise}


def _tellable(value: Any, said: str) -> bool:
    """Whether hearing `value` proves the agent read it: long enough not to turn up by chance, and not
    something the caller said themselves."""
    words = _told(value)
    return len(words) >= MIN_TOLD_LENGTH and words not in said and spoken(value) not in said


_SECOND_PERSON = {"your": "the user's", "yours": "the user's", "you": "the user", "yourself": "the user"}
_SECOND_PERSON_WORD = re.compile(r"\b(" + "|".join(_SECOND_PERSON) + r")\b")


def _refusal_assertion(refused: _Refused) -> str:
    ask = _SECOND_PERSON_WORD.sub(lambda match: _SECOND_PERSON[match.group(1)], refused.ask)
    return f"The agent declines the user's request to {ask}, because {refused.because}, and does not call {refused.tool}."


_SENTENCE_START = re.compile(r"(^|[.!?]\s+)([a-z])")


def _sentence_case(text: str) -> str:
    """A capital letter at the start of every sentence, whichever phrasing came first."""
    return _SENTENCE_START.sub(lambda match: match.group(1) + match.group(2).upper(), text)


def _result_value(output: Any, key: str) -> Any:
    """The value of `key` in a tool's object output, or in an object nested one level down (an account's
    subscription); None when it has none."""
    if not isinstance(output, Mapping):
        return None
    if output.get(key) is not None:
        return output[key]
    for child in output.values():
        if isinstance(child, Mapping) and child.get(key) is not None:
            return child[key]
    return None


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


def _told(value: Any) -> str:
    """A value the agent must tell, as the tool returned it (whole numbers without '.0'): the grader
    looks for it in the agent's words."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
