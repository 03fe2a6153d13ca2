"""Replay τ²-style action lists on fresh copies of a domain database, reporting upstream's diff.

Each input item is `{"id": ..., "actions": [{"name": ..., "arguments": {...}}, ...]}` or a task record
(whose gold actions are `evaluation_criteria.actions`, as `toolscale tau2 import` writes); its actions run
in order on a fresh episode, and the result lists each call's `ok`, `output` and `error` plus the
`final_db_diff` in the format of τ²-bench's gold replays (see toolscale.tau2.retail).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from toolscale.engine.arguments import argument_problem
from toolscale.engine.database import DomainDatabase
from toolscale.errors import ToolScaleError
from toolscale.tau2 import retail

# Domains whose state converts to a τ²-bench database (and so has upstream's diff format).
SUPPORTED_DOMAINS = (retail.DOMAIN,)


_MAX_DEPTH = 64


class ReplayInputError(ToolScaleError, ValueError):
    """An input item that is not `{"id", "actions": [{"name", "arguments"}]}`; the message says where."""


@dataclass
class Replayer:
    """One domain database and its upstream-shaped initial state, shared by every replayed item."""

    database: DomainDatabase
    initial: Mapping[str, Mapping[str, retail.Record]] = field(init=False)

    def __post_init__(self) -> None:
        with self.database.fork() as environment:
            self.initial = retail.export_upstream(environment)

    @classmethod
    def for_domain(cls, domain: str) -> Replayer:
        if domain not in SUPPORTED_DOMAINS:
            raise ReplayInputError(f"domain {domain!r} has no τ²-bench converter; supported: {', '.join(SUPPORTED_DOMAINS)}")
        return cls(retail.build_database())

    def replay(self, item: Mapping[str, Any], where: str = "item") -> dict[str, Any]:
        # Echoed in the result, which must be writable text: no lone surrogates, NaN or runaway nesting.
        problem = argument_problem(item, max_depth=_MAX_DEPTH)
        if problem is not None:
            raise ReplayInputError(f"{where}: {problem}")
        actions = item.get("actions")
        if actions is None and isinstance(item.get("evaluation_criteria"), Mapping):
            actions = item["evaluation_criteria"].get("actions")
        if not isinstance(actions, list):
            raise ReplayInputError(f"{where}: 'actions' must be a list of {{name, arguments}} objects")
        results = []
        with self.database.fork() as environment:
            for index, action in enumerate(actions):
                if not isinstance(action, Mapping) or not isinstance(action.get("name"), str):
                    raise ReplayInputError(f"{where}: actions[{index}] needs a string 'name'")
                arguments = action.get("arguments") or {}
                observation = environment.call(action["name"], arguments)
                result: dict[str, Any] = {"action_id": action["action_id"]} if "action_id" in action else {}
                result |= {
                    "name": action["name"],
                    "arguments": arguments,
                    "ok": observation.ok,
                    "output": observation.output if observation.ok else None,
                    "error": observation.error,
                }
                results.append(result)
            diff = retail.final_db_diff(environment, self.initial)
        return {"id": item.get("id"), "actions": results, "final_db_diff": diff}
