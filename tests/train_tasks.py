"""Small verified bank tasks for the trainer's tests (a 30-client database, synthesized in about a second)."""

from __future__ import annotations

from functools import cache

from toolscale.domain.loader import domain_dir, load_domain
from toolscale.populate.stage import populate
from toolscale.tasks.grammar import GRAMMAR_FILE, load_grammar
from toolscale.tasks.preference import SynthesisConfig
from toolscale.tasks.record import ToolScaleTask
from toolscale.tasks.run import synthesize_domain


@cache
def bank_tasks() -> tuple[ToolScaleTask, ...]:
    spec = load_domain("bank")
    grammar = load_grammar(domain_dir("bank") / GRAMMAR_FILE, spec)
    return tuple(synthesize_domain(populate(spec, 30, seed=0), grammar, SynthesisConfig(), seed=0, indices=range(40)).kept)


def one_write_task() -> ToolScaleTask:
    """The first task with exactly one write and nothing to tell the user."""
    writes = {tool.name for tool in load_domain("bank").tools if tool.kind == "write"}
    return next(
        task
        for task in bank_tasks()
        if sum(action.name in writes for action in task.actions) == 1 and not task.evaluation_criteria.communicate_info
    )


def task_with_info() -> ToolScaleTask:
    return next(task for task in bank_tasks() if task.evaluation_criteria.communicate_info)
