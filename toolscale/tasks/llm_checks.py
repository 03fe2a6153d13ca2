"""Names of the checks made on what a language model wrote, kept apart so records can name them.

They follow the verifier's own checks in the funnel. A rewritten scenario is checked again by the
verifier (`toolscale.tasks.rewrite`); a proposed task by the verifier from the start
(`toolscale.tasks.propose`), so only its malformed answers need a name of their own.
"""

from __future__ import annotations

from typing import Literal

LLMCheck = Literal[
    "rewrite_invalid",  # no answer that fits the rewrite's schema, after repairs (or a refusal, a transport failure)
    "rewrite_lost_fact",  # the rewrite drops a value the gold actions need, or a row's mention that told it apart
    "rewrite_leaked_id",  # the rewrite shows an internal id the user could not know
    "rewrite_told_answer",  # the rewrite already says a value the agent must tell (it would prove nothing)
    "proposal_invalid",  # no answer that fits the proposal's schema, or actions naming no tool of the domain
]
LLM_CHECKS: tuple[LLMCheck, ...] = LLMCheck.__args__  # type: ignore[attr-defined]
REWRITE_CHECKS: tuple[LLMCheck, ...] = tuple(check for check in LLM_CHECKS if check.startswith("rewrite_"))
