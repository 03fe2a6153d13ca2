"""The verifier: a candidate task is kept only if executing its gold actions proves it well-formed.

Each check of docs/design.md's Verification section has a machine-readable name. A candidate is replayed
once on a fresh episode (recording the state hash after every action, so every proper prefix is
checked without replaying it) and once more to prove the final state is reproducible.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ConfigDict

from toolscale.domain.checks import changeable_columns
from toolscale.engine.database import DomainDatabase, spec_fingerprint
from toolscale.engine.environment import CellKey, Environment, FailureReason, StateDiff
from toolscale.tasks import ambiguity
from toolscale.tasks.checks import CheckName
from toolscale.tasks.communicate import weakness
from toolscale.tasks.spoken import spoken

# Ids shorter than this are too likely to occur in ordinary text to count as a leak.
MIN_ID_LENGTH = 4


@dataclass(frozen=True)
class Action:
    """A gold tool call, as synthesis makes it, the verifier replays it and example files spell it.
    (τ²'s wire shape, with action ids and requestor, is `toolscale.tasks.upstream.Action`.)"""

    # Read from example files too: an unknown key there is a typo, not something to ignore.
    __pydantic_config__ = ConfigDict(extra="forbid")

    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True)
class Candidate:
    """What the verifier needs of a task: gold actions and every text the simulated user is given."""

    actions: Sequence[Action]
    scenario: str  # reason_for_call, known_info and task_instructions: what the user can say
    communicate_info: Sequence[str] = ()
    # What an earlier execution of the same actions saw (synthesis runs them once as it builds the
    # task): when given, it is the run the verifier's replay must reproduce, instead of a second replay.
    observed: Observed | None = None


@dataclass(frozen=True)
class Observed:
    outputs: tuple[Any, ...]
    final_hash: str


@dataclass(frozen=True)
class Reason:
    check: CheckName
    detail: str
    action_index: int | None = None


@dataclass(frozen=True)
class TraceStep:
    """One executed gold action: what the agent would have seen and the state after it."""

    name: str
    arguments: Mapping[str, Any]
    ok: bool
    output: Any
    error: str | None
    state_hash: str
    failure: FailureReason | None = None
    outcome_hash: str = ""  # the state with generated ids named by content (`Environment.outcome_hash`)
    changed: frozenset[CellKey] = frozenset()  # the cells a write changed (`Environment.last_changed`)


@dataclass(frozen=True)
class Verdict:
    reasons: tuple[Reason, ...]
    trace: tuple[TraceStep, ...]
    initial_hash: str
    final_hash: str
    final_diff: StateDiff = field(repr=False)
    # The final state with generated ids named by content: what any order of independent writes reaches.
    outcome_hash: str = ""

    @property
    def kept(self) -> bool:
        return not self.reasons


def normalized_writes(database: DomainDatabase, actions: Sequence[Action]) -> str:
    """The write actions as canonical JSON: reads change nothing, so two tasks with the same writes
    set the same goal; numbers are compared by value (1 and 1.0 are the same amount)."""
    writes = [[action.name, _normalize(action.arguments)] for action in actions if _writes(database, action.name)]
    if not writes:  # an information task: what it reads is what it asks
        writes = [[action.name, _normalize(action.arguments)] for action in actions]
    return json.dumps(writes, sort_keys=True, separators=(",", ":"))


def _writes(database: DomainDatabase, name: str) -> bool:
    tool = database.tools.get(name)
    return tool is not None and tool.writes


def _normalize(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {key: _normalize(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normalize(item) for item in value]
    return value


def leaves(value: Any, *, booleans: bool = True) -> list[Any]:
    """Every scalar inside a JSON value, including object keys that are ids (maps keyed by id).

    Iterative and unordered: it runs over every output of every replayed action. Without `booleans`,
    yes/no values are left out: in a set, True is the number 1.
    """
    found: list[Any] = []
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)  # JSON values are exact dicts, lists and scalars: no subclass checks needed
        if kind is dict:
            found.extend(item)
            pending.extend(item.values())
        elif kind is list or kind is tuple:
            pending.extend(item)
        elif item is not None and (booleans or kind is not bool):
            found.append(item)
    return found


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _numbers_in(text: str) -> set[float]:
    return {float(match.replace(",", "")) for match in _NUMBER.findall(text)}


def _mentions(text: str, value: str) -> bool:
    """`value` occurs in `text` as a whole token (an id inside a longer id does not count)."""
    start = text.find(value)
    while start >= 0:
        end = start + len(value)
        if (start == 0 or not _token_char(text[start - 1])) and (end == len(text) or not _token_char(text[end])):
            return True
        start = text.find(value, start + 1)
    return False


def _token_char(character: str) -> bool:
    return character.isalnum() or character in "_-"


_CHANGEABLE: dict[str, dict[str, frozenset[tuple[str, str | None]]]] = {}


def _changeable_columns(database: DomainDatabase) -> dict[str, frozenset[tuple[str, str | None]]]:
    """`changeable_columns` of the database's spec, compiled once per spec and process (a verifier is made per
    unit of work)."""
    key = spec_fingerprint(database.spec)
    if key not in _CHANGEABLE:
        _CHANGEABLE[key] = changeable_columns(database.spec)
    return _CHANGEABLE[key]


class Verifier:
    """Verifies candidates of one domain database; remembers kept tasks to refuse duplicates.

    `words`: how the task grammar names rows (`ambiguity.grammar_words`); without them a row is told
    apart only by values the scenario spells out.
    """

    def __init__(self, database: DomainDatabase, words: ambiguity.GrammarWords | None = None) -> None:
        self.database = database
        self._words = words or ambiguity.GrammarWords()
        spec = database.spec
        # Catalogue tables (fixed `data` rows such as plans) have public names for keys, not internal ids.
        self._key_columns = {
            table.name: table.primary_key.name for table in spec.tables if table.primary_key.type == "text" and table.data is None
        }
        self._caller = spec.caller
        self._changeable = _changeable_columns(database)
        self._seen: set[str] = set()
        # An episode that only ever reads, kept open to look values up in the initial state.
        self._initial = database.fork()
        # Every key of the initial state and the first table (in spec order) it is a key of, read once:
        # whether a value is an id is then a dict lookup, not a query over every table per candidate.
        self._initial_keys: dict[str, str] = {}
        for table, column in self._key_columns.items():
            for (key,) in self._initial.query(f"SELECT {column} FROM {table}"):
                self._initial_keys.setdefault(key, table)

    def close(self) -> None:
        self._initial.close()

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def verify(self, candidate: Candidate) -> Verdict:
        with self.database.fork() as env:
            initial = env.state_hash()
            trace = tuple(self._run(env, candidate.actions))
            final, outcome = env.state_hash(), env.outcome_hash()
            diff = env.state_diff()
            reasons = list(self._execution_reasons(trace, initial, outcome, self._informs_only(candidate)))
            if not reasons:
                reasons += self._grounding_reasons((self._initial, env), candidate, trace, diff)
        if not reasons:
            earlier = candidate.observed or self._replay_again(candidate)
            if earlier.final_hash != final or list(earlier.outputs) != [step.output for step in trace]:
                reasons.append(Reason("nondeterministic", "another run of the same actions ended elsewhere or saw other outputs"))
        if not reasons:
            reasons += self._redundancy_reasons(candidate.actions, trace, initial, outcome)
        if not reasons:
            outputs = [step.output for step in trace]
            found = ambiguity.ambiguous_target(self._ambiguity_context(), candidate.actions, outputs, candidate.scenario, outcome)
            if found is not None:
                reasons.append(Reason("ambiguous_target", found.detail, found.action_index))
        if not reasons:
            key = normalized_writes(self.database, candidate.actions)
            if key in self._seen:
                reasons.append(Reason("duplicate", "the same writes as a task already kept"))
            else:
                self._seen.add(key)
        return Verdict(tuple(reasons), trace, initial, final, diff, outcome)

    def _replay_again(self, candidate: Candidate) -> Observed:
        with self.database.fork() as env:
            outputs = tuple(step.output for step in self._run(env, candidate.actions))
            return Observed(outputs, env.state_hash())

    @staticmethod
    def _run(env: Environment, actions: Sequence[Action]) -> Iterator[TraceStep]:
        for action in actions:
            observation = env.call(action.name, dict(action.arguments))
            yield TraceStep(
                action.name,
                action.arguments,
                observation.ok,
                observation.output,
                observation.error,
                env.state_hash(),
                observation.reason,
                env.outcome_hash(),
                env.last_changed if observation.ok and env.tools[action.name].writes else frozenset(),
            )

    def _redundancy_reasons(
        self, actions: Sequence[Action], trace: Sequence[TraceStep], initial: str, outcome: str
    ) -> Iterator[Reason]:
        """A write is redundant when the other writes alone reach the same outcome (reads change nothing).

        A write that changed a cell no later write's tool can change (by the columns its effects set, or
        the tables it inserts into or deletes from) is not: that cell keeps this write's value to the end,
        and without the write it would keep the one before. Only the other writes are replayed without.
        """
        writes = [index for index, action in enumerate(actions) if _writes(self.database, action.name)]
        if len(writes) < 2:
            return  # without its only write a task changes nothing: no_state_change's case
        changeable = self._changeable
        later: set[tuple[str, str | None]] = set()  # what the writes after the one at hand can change
        can_change_later: list[frozenset[tuple[str, str | None]]] = []
        for index in reversed(writes):
            can_change_later.append(frozenset(later))
            later |= changeable[actions[index].name]
        can_change_later.reverse()
        for position, dropped in enumerate(writes):
            before = trace[dropped - 1].state_hash if dropped else initial  # reads change nothing
            if before == trace[dropped].state_hash:
                yield Reason("redundant_action", f"{actions[dropped].name} changes nothing", dropped)
                return
            reach = can_change_later[position]
            if any((table, column) not in reach and (table, None) not in reach for table, _, column in trace[dropped].changed):
                continue
            with self.database.fork() as env:
                rest = [actions[index] for index in writes if index != dropped]
                if all(env.call(action.name, dict(action.arguments)).ok for action in rest) and env.outcome_hash() == outcome:
                    name = actions[dropped].name
                    yield Reason("redundant_action", f"without {name} the other writes reach the same final state", dropped)
                    return

    def _ambiguity_context(self) -> ambiguity.Context:
        return ambiguity.Context(self.database, self._initial, self._initial_keys, self._words, self._caller.table)

    def _informs_only(self, candidate: Candidate) -> bool:
        """An information task: no write at all, and values the agent must tell (which doing nothing fails)."""
        return bool(candidate.communicate_info) and not any(_writes(self.database, action.name) for action in candidate.actions)

    def _execution_reasons(self, trace: Sequence[TraceStep], initial: str, final: str, informs: bool) -> Iterator[Reason]:
        """`final`: the outcome hash; a prefix is compared by its own outcome hash."""
        failed = False
        for index, step in enumerate(trace):
            if not step.ok:
                failed = True
                invalid = step.failure in ("unknown_tool", "invalid_arguments")
                yield Reason("invalid_action" if invalid else "action_failed", step.error or "", index)
        if failed:
            return
        if informs:
            return  # nothing is written, so no prefix can reach the final state early
        if final == initial:
            yield Reason("no_state_change", "the gold actions leave the database as it was")
            return
        # Reads after the last write leave the state as it is: only prefixes that stop before the last
        # write must not already reach the final state.
        last_write = max(index for index, step in enumerate(trace) if _writes(self.database, step.name))
        for index, step in enumerate(trace[:last_write]):
            if step.outcome_hash == final:
                yield Reason("prefix_reaches_goal", f"the first {index + 1} action(s) already reach the final state", index)
                return

    def _grounding_reasons(
        self, envs: tuple[Environment, Environment], candidate: Candidate, trace: Sequence[TraceStep], diff: StateDiff
    ) -> Iterator[Reason]:
        text = candidate.scenario
        numbers = _numbers_in(text)
        revealed = [leaves(step.output, booleans=False) for step in trace]
        seen_outputs: set[Any] = set()  # numbers compare by value here: 50 and 50.0 are one element
        for index, action in enumerate(candidate.actions):
            if _writes(self.database, action.name):
                for name, value in action.arguments.items():
                    for leaf in leaves(value):
                        if not self._grounded(leaf, text, numbers, seen_outputs):
                            yield Reason("ungrounded_argument", f"{action.name}.{name} = {leaf!r}", index)
            seen_outputs.update(revealed[index])
        for info in candidate.communicate_info:
            if not any(_mentions(str(leaf), info) or str(leaf) == info for leaf in seen_outputs):
                yield Reason("uncommunicable_info", f"{info!r} appears in no action's output")
            else:
                weak = weakness(info, text)
                if weak is not None:
                    yield Reason("weak_communicate", weak)
        yield from self._leaks(envs, candidate, revealed, diff)

    @staticmethod
    def _grounded(value: Any, text: str, numbers: set[float], outputs: set[Any]) -> bool:
        if isinstance(value, bool):
            return True  # a yes/no choice is stated in words, not as a value
        if isinstance(value, int | float):
            return float(value) in numbers or value in outputs
        # The scenario says values as people do ("August 2, 2025", "first class"): either form counts.
        return value in outputs or _mentions(text, str(value)) or _mentions(text, spoken(value))

    def _leaks(
        self, envs: tuple[Environment, Environment], candidate: Candidate, revealed: Sequence[list[Any]], diff: StateDiff
    ) -> Iterator[Reason]:
        """Ids the actions use or see that the scenario spells out, unless the caller knows them.

        Ids are looked up in the initial and the final state: a row the task deletes or inserts is a
        row all the same."""
        values = {leaf for action in candidate.actions for leaf in leaves(action.arguments)}
        values.update(*revealed)
        # A key the initial state lacks is in the final one only if the task inserted (or re-keyed) its
        # row; the diff lists those rows by key, so nothing needs to be read.
        final_keys: dict[str, str] = {}
        for table in self._key_columns:
            for key, change in diff.get(table, {}).items():
                if change["after"] is not None:
                    final_keys.setdefault(key, table)
        text = candidate.scenario
        shown = sorted(
            value
            for value in values
            if type(value) is str
            and len(value) >= MIN_ID_LENGTH
            and (value in self._initial_keys or value in final_keys)
            and value in text  # a substring first: most ids are not in the text at all
            and _mentions(text, value)
        )
        for value in shown:
            key_of = self._initial_keys.get(value) or final_keys[value]
            if not any(self._known_to_a_caller(env, value) for env in envs):
                yield Reason("leaked_id", f"the scenario shows {value!r}, an id of table {key_of!r}")

    def _known_to_a_caller(self, env: Environment, value: str) -> bool:
        """What callers know about themselves (email, name, ...) is never a leak, even when it is a key."""
        return any(env.query(f"SELECT 1 FROM {self._caller.table} WHERE {column} = ?", (value,)) for column in self._caller.known)
