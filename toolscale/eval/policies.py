"""A policy from its config entry. Model policies are imported only when used: torch and openai load slowly."""

from __future__ import annotations

from toolscale.eval.baselines import DoNothing, ExpensiveExpert, GoldReplay, RandomCalls
from toolscale.eval.config import (
    EndpointPolicy,
    ExpensiveExpertPolicy,
    GoldPolicy,
    LocalPolicy,
    NullPolicy,
    PolicyConfig,
    RandomPolicy,
)
from toolscale.train.experts import ExpertRouter
from toolscale.train.rollout import Policy


def build_policy(config: PolicyConfig, router: ExpertRouter) -> Policy:
    match config:
        case GoldPolicy():
            return GoldReplay()
        case NullPolicy():
            return DoNothing()
        case RandomPolicy():
            return RandomCalls(config)
        case ExpensiveExpertPolicy():
            return ExpensiveExpert(router)
        case EndpointPolicy():
            from toolscale.eval.endpoint import EndpointChat

            return EndpointChat(config)
        case LocalPolicy():
            from toolscale.eval.local import LocalModel

            return LocalModel(config)


def concurrency(config: PolicyConfig) -> int:
    """Tasks run at once: an endpoint serves many conversations; everything else runs here, one at a time."""
    return config.concurrency if isinstance(config, EndpointPolicy) else 1
