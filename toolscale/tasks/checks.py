"""The verifier's checks by name, in the order it applies them (the funnel's order): a module of its own so
that a record, which names the check that rejected it, can be read without loading the verifier."""

from __future__ import annotations

from typing import Literal

CheckName = Literal[
    "invalid_action",  # unknown tool or arguments failing its JSON Schema
    "action_failed",  # a gold action executes with an error
    "no_state_change",  # doing nothing already reaches the final state
    "nondeterministic",  # a second replay ends in another state
    "prefix_reaches_goal",  # a proper prefix of the gold actions already reaches the final state
    "ungrounded_argument",  # a write's argument is neither in the scenario nor in an earlier output
    "leaked_id",  # the scenario shows an internal id the user could not know
    "uncommunicable_info",  # a value the agent must tell the user appears in no action's output
    "weak_communicate",  # a value to tell proves nothing: the user said it, or it is too short or common
    "redundant_action",  # dropping one gold write leaves the final state as it is
    "ambiguous_target",  # another row the scenario's words fit as well would pass the same calls, elsewhere
    "duplicate",  # same domain and same normalized write sequence as a task already kept
    "near_duplicate",  # same writes and wording (values aside) as too many kept tasks (`toolscale.tasks.near_duplicates`)
]
CHECKS: tuple[CheckName, ...] = CheckName.__args__  # type: ignore[attr-defined]
