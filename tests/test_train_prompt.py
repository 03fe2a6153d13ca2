"""The trainer's prompt carries everything the reward grades, for every task of the default run's first unit.

The reward needs every communicate_info told and weighs the stated preference; a policy can only learn
that if its prompt says what to tell and what the user prefers. These tasks are those the default
pipeline (pipelines/default.yaml) keeps from each domain's first unit of candidates.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from toolscale.domain.loader import domain_dir, load_domain
from toolscale.pipeline.config import load_run_config
from toolscale.populate.stage import default_size, populate
from toolscale.tasks.grammar import GRAMMAR_FILE, load_grammar
from toolscale.tasks.record import ToolScaleTask
from toolscale.tasks.run import synthesize_domain
from toolscale.tasks.upstream import StructuredUserInstructions
from toolscale.train.config import ExpertsConfig, UserConfig
from toolscale.train.environment import environment_classes
from toolscale.train.experts import ExpertRouter
from toolscale.train.tiny import rendered_prompts

DEFAULT_RUN = Path(__file__).parents[1] / "pipelines" / "default.yaml"


@pytest.fixture(scope="module")
def default_tasks() -> list[ToolScaleTask]:
    config = load_run_config(DEFAULT_RUN)
    tasks: list[ToolScaleTask] = []
    for run in config.domains:
        spec = load_domain(run.name)
        database = populate(spec, run.size or default_size(spec), config.seed)
        grammar = load_grammar(domain_dir(run.name) / GRAMMAR_FILE, spec)
        tasks += synthesize_domain(
            database, grammar, config.synthesis, seed=config.seed, indices=range(config.unit_candidates)
        ).kept
    return tasks


@pytest.mark.parametrize("mode", ["solo", "llm"])
def test_every_graded_request_and_preference_is_in_the_rendered_prompt(default_tasks: list[ToolScaleTask], mode: str) -> None:
    user = UserConfig(mode="llm", endpoint="http://127.0.0.1:9/v1", model="user") if mode == "llm" else UserConfig()
    domains = {task.domain for task in default_tasks}
    environments = environment_classes({name: load_domain(name) for name in domains}, ExpertRouter(ExpertsConfig()), user)
    rendered = rendered_prompts(default_tasks, environments, solo=mode == "solo")
    with_info = [task for task in default_tasks if task.evaluation_criteria and task.evaluation_criteria.communicate_info]
    stated = [task for task in default_tasks if task.preference.statement]
    assert len(domains) == 10
    assert with_info
    assert stated
    missing: list[str] = []
    for task, text in zip(default_tasks, rendered, strict=True):
        instructions = task.user_scenario.instructions
        assert isinstance(instructions, StructuredUserInstructions)
        # The user's instructions are where each task asks to be told its communicate_info (in its phrasings).
        if task in with_info and not instructions.task_instructions:
            missing.append(f"{task.id}: communicate_info but no instructions")
        expected = [instructions.task_instructions or "", task.preference.statement or "", instructions.known_info or ""]
        expected += [
            f"- {alias}: {price.model}, ${price.input_price_per_million:g} per million input tokens"
            for alias, price in task.pricing.experts.items()
        ]
        missing += [f"{task.id}: {part!r}" for part in expected if part not in text]
    assert not missing, f"{len(missing)} graded parts missing from prompts, e.g. {missing[:3]}"
