"""The `ambiguous_target` check: a write whose target row the scenario does not pin down.

A write's argument that is the key of a row, that the scenario does not spell out and that no lookup of
the grammar decides (a lookup picks its row by the read's order: "the first train", "the cheapest hotel"),
names a row the user describes in words and the agent finds in a read's output. Another row is a rival when the agent
saw its key in the same place (under the same output key of a read the gold actions made) and nothing
the agent can see tells the two apart by what the user says: wherever their views differ (a view is
every object of the reads' outputs that holds the key, plus what the domain's reads by that key
return), the field is neither one the grammar's mention of the table names nor a value the scenario
says. If the gold actions with the rival put in the target's place all succeed and end in another
outcome, a careful agent could have done either: the task is ambiguous. Generic: it needs only the
spec's tools, the grammar's mentions and the trace.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from toolscale.engine.database import DomainDatabase
from toolscale.engine.environment import Environment
from toolscale.tasks.communicate import found, normalized
from toolscale.tasks.grammar import TaskGrammar, phrasings, template_fields


class Call(Protocol):
    """A gold action (`toolscale.tasks.verify.Action`)."""

    @property
    def name(self) -> str: ...
    @property
    def arguments(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class GrammarWords:
    """What a task grammar says about how rows are named: per table, the columns its mention names
    ("{kind} account ending {number_last4}"), and the (write tool, parameter) pairs a lookup decides."""

    mentions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    looked_up: frozenset[tuple[str, str]] = frozenset()


def grammar_words(grammar: TaskGrammar) -> GrammarWords:
    return GrammarWords(
        mentions={
            table: frozenset(name for template in phrasings(templates) for name in template_fields(template))
            for table, templates in grammar.mentions.items()
        },
        looked_up=frozenset((goal.tool, name) for goal in grammar.goals for lookup in goal.lookups for name in lookup.bind),
    )


@dataclass(frozen=True)
class Context:
    """What the check needs of the verifier: the database, a read-only episode on its initial state,
    every key of the initial state with its table, and the grammar's words."""

    database: DomainDatabase
    initial: Environment
    keys: Mapping[str, str]
    words: GrammarWords
    caller_table: str


@dataclass(frozen=True)
class Ambiguity:
    action_index: int
    detail: str


def ambiguous_target(
    context: Context, actions: Sequence[Call], outputs: Sequence[Any], scenario_text: str, outcome: str
) -> Ambiguity | None:
    """The first write whose target has a rival (see the module's docstring), given the gold actions, the
    outputs they saw, the scenario and the outcome hash they reach."""
    seen: _Outputs | None = None  # indexed only when some write argument needs it (most tasks need none)
    scenario = normalized(scenario_text)
    tools = context.database.tools
    for index, action in enumerate(actions):
        if not tools[action.name].writes:
            continue
        for parameter, value in action.arguments.items():
            table = context.keys.get(value) if isinstance(value, str) else None
            if table is None or table == context.caller_table or (action.name, parameter) in context.words.looked_up:
                continue  # not a row's key, the caller's own, or picked by a read's order: not named in words
            if found(value, scenario):
                continue  # said by the user
            seen = seen or _Outputs(outputs, context.keys)
            where_seen = seen.places.get(value, set())
            rivals = sorted(
                other for other in seen.keys_of(table, context.keys) if other != value and seen.places[other] & where_seen
            )
            target: _Target | None = None  # what tells the target apart, worked out only if it has a rival
            for rival in rivals:
                target = target or _Target(context, scenario, table, action, parameter, value, seen)
                if target.told_apart_from(rival):
                    continue
                if _reaches_elsewhere(context, actions, value, rival, outcome):
                    detail = f"{action.name}.{parameter} = {value!r}: the scenario fits {rival!r} as well, which ends elsewhere"
                    return Ambiguity(index, detail)
    return None


class _Outputs:
    """The objects of the gold actions' outputs, indexed by the row keys they hold (read once per candidate)."""

    def __init__(self, outputs: Sequence[Any], row_keys: Mapping[str, str]) -> None:
        self.places: dict[Any, set[str]] = {}  # each row key seen under an object key, with those keys
        self._holding: dict[Any, list[dict[str, Any]]] = {}
        self._keys: dict[str, list[Any]] = {}  # table -> the scalars seen that are keys of its rows
        # `_objects` and the scan of each object's fields in one pass, in `_objects`' order: this reads
        # every field of every output, on every candidate that has a target to check.
        pending: list[Any] = [outputs]
        while pending:
            item = pending.pop()
            kind = type(item)  # JSON values are exact dicts, lists and scalars: no subclass checks needed
            if kind is dict:
                for key, cell in item.items():
                    kind = type(cell)
                    if kind is str:
                        if cell in row_keys:  # only keys can be targets or rivals
                            self.places.setdefault(cell, set()).add(key)
                            self._holding.setdefault(cell, []).append(item)
                    elif kind is dict or kind is list:
                        pending.append(cell)
            elif kind is list or kind is tuple:
                pending.extend(item)

    def keys_of(self, table: str, keys: Mapping[str, str]) -> list[Any]:
        """The scalars seen that are keys of `table`'s rows (made once per table)."""
        if table not in self._keys:
            self._keys[table] = [cell for cell in self.places if keys[cell] == table]
        return self._keys[table]

    def differs(self, marks: Mapping[str, Any], value: Any) -> bool:
        """Whether a field of `marks` holds another value in `value`'s view: `_differs(marks, self.view(value))`
        without making the view (a target has a few marks and dozens of rivals, each with several objects)."""
        holding = self._holding.get(value, ())
        for key, mine in marks.items():
            for item in holding:
                if key in item:  # the view keeps the first object's field
                    if item[key] != mine:
                        return True
                    break
        return False

    def view(self, value: Any, extra: Sequence[Any] = ()) -> dict[str, Any]:
        """Every field of the objects holding `value` (and of `extra` outputs): what the agent sees of its row."""
        view: dict[str, Any] = {}
        for item in [*self._holding.get(value, ()), *(item for item in _objects(extra) if _holds(item, value))]:
            for key, cell in item.items():
                view.setdefault(key, cell)
        return view


def _holds(item: Mapping[str, Any], value: Any) -> bool:
    return any(cell == value and type(cell) is type(value) for cell in item.values())


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)  # JSON values are exact dicts, lists and scalars: no subclass checks needed
        if kind is dict:
            yield item
            pending.extend(item.values())
        elif kind is list or kind is tuple:
            pending.extend(item)


class _Target:
    """A write's target row and what tells it apart in words: the fields of its view that the grammar's
    mention names or whose value the scenario says (worked out once, then compared with each rival)."""

    def __init__(
        self, context: Context, scenario: str, table: str, action: Call, parameter: str, value: str, seen: _Outputs
    ) -> None:
        self._context, self._scenario, self._seen = context, scenario, seen
        self._action, self._parameter, self._value = action, parameter, value
        self._named = context.words.mentions.get(table, frozenset())
        self._marks = self._marks_of(seen.view(value))
        self._detailed_marks: dict[str, Any] | None = None  # with the reads by key: made only if a rival needs them

    def _marks_of(self, view: Mapping[str, Any]) -> dict[str, Any]:
        return {
            key: mine
            for key, mine in view.items()
            if not isinstance(mine, dict | list)
            and (key in self._named or (mine is not None and found(str(mine), self._scenario)))
        }

    def told_apart_from(self, rival: str) -> bool:
        """Whether a field the user's words fix differs between the two rows: in the trace's views first, and
        only if those do not separate them, also in what the reads by key return."""
        if self._seen.differs(self._marks, rival):
            return True
        if self._detailed_marks is None:
            detail = _detail_reads(self._context, self._action, self._parameter, self._value)
            self._detailed_marks = self._marks_of(self._seen.view(self._value, detail))
        theirs = _detail_reads(self._context, self._action, self._parameter, rival)
        return _differs(self._detailed_marks, self._seen.view(rival, theirs))


def _differs(marks: Mapping[str, Any], rival: Mapping[str, Any]) -> bool:
    return any(key in rival and rival[key] != mine for key, mine in marks.items())


def _detail_reads(context: Context, action: Call, parameter: str, key: str) -> list[Any]:
    """Outputs of the reads that take the target's key (matched by name) and otherwise only the write's arguments."""
    found_outputs: list[Any] = []
    for tool in context.database.tools.values():
        required = list(tool.spec.parameters.required)
        if tool.writes or not any(_names_match(parameter, name) for name in required):
            continue
        arguments = {}
        for name in required:
            if _names_match(parameter, name):
                arguments[name] = key
            elif name in action.arguments:
                arguments[name] = action.arguments[name]
            else:
                break
        else:
            observation = context.initial.call(tool.name, arguments)
            if observation.ok:
                found_outputs.append(observation.output)
    return found_outputs


def _names_match(parameter: str, name: str) -> bool:
    return parameter == name or parameter.endswith("_" + name)


def _reaches_elsewhere(context: Context, actions: Sequence[Call], value: str, rival: str, outcome: str) -> bool:
    """The gold actions with `rival` wherever `value` was all succeed and end in another outcome.

    Reads before the first action that names `value` are left out: they see the gold run's state with the
    gold run's arguments, so they succeed as they did there, and reads change nothing."""
    tools = context.database.tools
    with context.database.fork() as env:
        changed = False
        for action in actions:
            arguments = _replaced(dict(action.arguments), value, rival)
            changed = changed or arguments != action.arguments
            if (changed or tools[action.name].writes) and not env.call(action.name, arguments).ok:
                return False
        return env.outcome_hash() != outcome


def _replaced(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return new if value == old else value
    if isinstance(value, Mapping):
        return {key: _replaced(item, old, new) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_replaced(item, old, new) for item in value]
    return value
