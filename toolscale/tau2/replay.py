"""Replay τ²-style action lists on fresh copies of a domain database, reporting upstream's diff.

Each input item is `{"id": ..., "actions": [{"name": ..., "arguments": {...}}, ...]}` or a task record
(whose gold actions are `evaluation_criteria.actions`, as `toolscale tau2 import` writes); its actions run
in order on a fresh episode. The result has the fields of τ²-bench's own gold replays (see
domains/retail/NOTICE.md): `task_id`; per call `action_id`, `name`, `arguments`, `ok`, `output`, `error`
and `error_type`; the `final_db_diff`; and upstream's `initial_db_hash` and `final_db_hash`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from toolscale.engine.database import DomainDatabase
from toolscale.engine.environment import FailureReason
from toolscale.tau2 import retail

# Domains whose state converts to a τ²-bench database (and so has upstream's diff format).
SUPPORTED_DOMAINS = (retail.DOMAIN,)
# Upstream's tools raise ValueError for every broken domain rule and a pydantic ValidationError for
# arguments of the wrong shape; our failure reasons map onto those two.
ERROR_TYPES: dict[FailureReason, str] = {"invalid_arguments": "ValidationError"}
DOMAIN_RULE_ERROR = "ValueError"


class ReplayInputError(ValueError):
    """An input item that is not `{"id", "actions": [{"name", "arguments"}]}`; the message says where."""


@dataclass
class Replayer:
    """One domain database and its upstream-shaped initial state, shared by every replayed item."""

    database: DomainDatabase
    initial: Mapping[str, Mapping[str, retail.Record]] = field(init=False)
    hasher: retail.UpstreamHasher = field(init=False)

    def __post_init__(self) -> None:
        with self.database.fork() as environment:
            self.initial = retail.export_upstream(environment)
        self.hasher = retail.UpstreamHasher(self.initial)

    @classmethod
    def for_domain(cls, domain: str) -> Replayer:
        if domain not in SUPPORTED_DOMAINS:
            raise ReplayInputError(f"domain {domain!r} has no τ²-bench converter; supported: {', '.join(SUPPORTED_DOMAINS)}")
        return cls(retail.build_database())

    def replay(self, item: Mapping[str, Any], where: str = "item", *, with_hashes: bool = True) -> dict[str, Any]:
        """`with_hashes=False` leaves out upstream's two database hashes (a few ms per item to compute)."""
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
                    "error_type": None if observation.reason is None else ERROR_TYPES.get(observation.reason, DOMAIN_RULE_ERROR),
                }
                results.append(result)
            diff = retail.final_db_diff(environment, self.initial)
        result = {"task_id": item.get("id"), "actions": results, "final_db_diff": diff}
        if with_hashes:
            result |= {"initial_db_hash": self.hasher.initial_hash, "final_db_hash": self.hasher.hash_after(diff)}
        return result
