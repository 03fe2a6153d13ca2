"""The eval run: each policy over each task for `trials` rollouts, written as results and trajectories.

The unit of work, and of resuming, is one policy on one task (all its trials: they are the reward's
group). Units are written in config order (policy, then task) as they finish, even when an endpoint
runs several at once, so a run of deterministic policies is byte-identical to any other. A rerun
keeps the finished units of the files and runs only the rest; a unit with an error (an endpoint still
failing after its retries) is not finished and is run again.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolscale.atomic import write_atomically
from toolscale.data.schema import task_to_row
from toolscale.domain.loader import load_domain
from toolscale.errors import ToolScaleError
from toolscale.eval.config import EndpointPolicy, EvalConfig
from toolscale.eval.figures import markdown_table, summarize
from toolscale.eval.plots import experts_png, pareto_png
from toolscale.eval.policies import build_policy, concurrency
from toolscale.spec.models import DomainSpec
from toolscale.tasks.record import ToolScaleTask
from toolscale.train.data import prompt, task_from_row, training_rows
from toolscale.train.environment import ToolScaleEnvironment, environment_classes, task_database
from toolscale.train.experts import ExpertRouter
from toolscale.train.reward import group_rewards, replies_of, rollout
from toolscale.train.rollout import Labels, Policy, result_record, run_rollout, tool_schemas, trajectory_record

RESULTS, TRAJECTORIES, SUMMARY, TABLE = "results.jsonl", "trajectories.jsonl", "summary.json", "summary.md"
PARETO_PLOT, EXPERTS_PLOT = "pareto.png", "experts.png"


class EvalError(ToolScaleError):
    """An eval that cannot run as configured (unknown policy, no tasks); the message says which and why."""


@dataclass(frozen=True)
class Unit:
    results: list[dict[str, Any]]
    trajectories: list[dict[str, Any]]
    seconds: float  # wall time of the unit's rollouts and scoring
    environment_seconds: float  # of which engine, environment and scoring: what the eval adds to the policy's own time


@dataclass(frozen=True)
class EvalRun:
    out: Path
    summary: dict[str, dict[str, Any]]
    units_run: int
    units_skipped: int
    errors: int  # rollouts of this run that ended in an error
    seconds: float  # the whole run, loading tasks and databases included
    unit_seconds: float  # summed wall time of the units run
    environment_seconds: float  # of which not the policy's


def _lines(path: Path) -> list[dict[str, Any]]:
    """The file's records; a line cut short by a killed run is dropped (its unit is then unfinished)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _finished(results: Sequence[Mapping[str, Any]], trials: int) -> set[tuple[str, str]]:
    seen: dict[tuple[str, str], set[int]] = {}
    failed: set[tuple[str, str]] = set()
    for result in results:
        key = (result["policy"], result["task_id"])
        seen.setdefault(key, set()).add(result["trial"])
        if result["error"] is not None:
            failed.add(key)
    return {key for key, done in seen.items() if done == set(range(trials)) and key not in failed}


def _dumps(records: Sequence[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def preference_facts(task: ToolScaleTask) -> dict[str, Any]:
    """What preference adherence checks: stated or not, the alias weights, the model the user said to ask."""
    statement = task.preference.statement or ""
    favourite = next((alias for alias, price in task.pricing.experts.items() if f"ask {price.model}" in statement), None)
    return {"stated": bool(statement), "aliases": dict(task.preference.aliases), "favourite": favourite}


class Evaluation:
    def __init__(self, config: EvalConfig, specs: Mapping[str, DomainSpec] | None = None) -> None:
        self.config = config
        self.solo = config.user.mode == "solo"
        self.tasks = [task_from_row(row) for row in training_rows(config.data, solo=self.solo)]
        if not self.tasks:
            raise EvalError(f"no tasks in {config.data.source} (split {config.data.split!r}, domains {config.data.domains})")
        domains = sorted({task.domain for task in self.tasks})
        self.specs = dict(specs) if specs is not None else {name: load_domain(name) for name in domains}
        self.router = ExpertRouter(config.experts)
        self.environments = environment_classes({name: self.specs[name] for name in domains}, self.router, config.user)
        self.tools = {name: tool_schemas(environment) for name, environment in self.environments.items()}
        for task in self.tasks:  # built here, once: worker threads then only fork them
            task_database(self.specs[task.domain], task)

    def _rollout_price(self, name: str) -> tuple[float, float]:
        """$ per million of the policy's own input and output tokens."""
        policy = self.config.policies[name]
        output_price = self.config.reward.orchestrator_price_per_million
        if isinstance(policy, EndpointPolicy):
            return (
                policy.input_price_per_million,
                output_price if policy.output_price_per_million is None else policy.output_price_per_million,
            )
        return 0.0, output_price

    def unit(self, name: str, policy: Policy, task: ToolScaleTask) -> Unit:
        """Every trial of one policy on one task, scored as one group by the trainer's reward."""
        input_price, output_price = self._rollout_price(name)
        started = time.perf_counter()
        policy_seconds = 0.0
        finished = []
        for trial in range(self.config.trials):
            environment: ToolScaleEnvironment = self.environments[task.domain]()
            environment.reset(**task_to_row(task))
            messages = prompt(task, solo=self.solo)
            conversation = run_rollout(
                environment, policy, messages, self.tools[task.domain], trial=trial, max_turns=self.config.max_turns
            )
            policy_seconds += conversation.policy_seconds
            episode = environment.episode
            assert episode is not None, "reset() made it"
            graded = rollout(
                episode,
                replies_of(conversation.messages),
                conversation.output_tokens,
                output_price,
                self.config.reward.preference,
            )
            graded = dataclasses.replace(graded, cost=graded.cost + conversation.input_tokens * input_price / 1e6)
            finished.append((episode, conversation, graded))
        rewards = group_rewards([graded for *_, graded in finished])
        results, trajectories = [], []
        for trial, ((episode, conversation, graded), reward) in enumerate(zip(finished, rewards, strict=True)):
            labels = Labels(policy=name, split=self.config.data.split, trial=trial)
            result = result_record(
                episode,
                graded,
                reward,
                labels,
                input_tokens=conversation.input_tokens,
                policy_seconds=conversation.policy_seconds,
                error=conversation.error,
            )
            results.append(result)
            trajectories.append(trajectory_record(result, episode, conversation.messages, labels))
            episode.environment.close()
        seconds = time.perf_counter() - started
        return Unit(results, trajectories, seconds, seconds - policy_seconds)

    def units(self, name: str, tasks: Sequence[ToolScaleTask]) -> Iterator[Unit]:
        """The policy's units in task order; an endpoint's run concurrently (each thread its own conversation)."""
        policy = build_policy(self.config.policies[name], self.router)
        workers = concurrency(self.config.policies[name])
        if workers == 1:
            yield from (self.unit(name, policy, task) for task in tasks)
            return
        with ThreadPoolExecutor(max_workers=workers) as pool:
            yield from pool.map(lambda task: self.unit(name, policy, task), tasks)


def evaluate(
    config: EvalConfig,
    out: Path,
    policies: Sequence[str] | None = None,
    *,
    specs: Mapping[str, DomainSpec] | None = None,
    echo: Callable[[str], None] | None = None,
) -> EvalRun:
    """Run the config's policies (or the named ones) into `out`: results, trajectories, summary table and plots."""
    names = list(policies) if policies else list(config.policies)
    unknown = [name for name in names if name not in config.policies]
    if unknown:
        raise EvalError(f"unknown policy {', '.join(unknown)}; the config has {', '.join(config.policies)}")
    started = time.perf_counter()
    evaluation = Evaluation(config, specs)
    out.mkdir(parents=True, exist_ok=True)
    results_path, trajectories_path = out / RESULTS, out / TRAJECTORIES
    done = _finished(_lines(results_path), config.trials)
    # Keep only finished units: an interrupted or failed unit is run again from its first trial.
    write_atomically(results_path, _dumps([r for r in _lines(results_path) if (r["policy"], r["task_id"]) in done]))
    write_atomically(trajectories_path, _dumps([t for t in _lines(trajectories_path) if (t["policy"], t["task_id"]) in done]))
    run = skipped = errors = 0
    unit_seconds = environment_seconds = 0.0
    with results_path.open("a", encoding="utf-8") as results, trajectories_path.open("a", encoding="utf-8") as trajectories:
        for name in names:
            todo = [task for task in evaluation.tasks if (name, task.id) not in done]
            skipped += len(evaluation.tasks) - len(todo)
            for unit in evaluation.units(name, todo):
                trajectories.write(_dumps(unit.trajectories))
                results.write(_dumps(unit.results))  # after its trajectories: a result line means the unit is whole
                results.flush()
                trajectories.flush()
                run += 1
                errors += sum(result["error"] is not None for result in unit.results)
                unit_seconds += unit.seconds
                environment_seconds += unit.environment_seconds
            if echo is not None:
                echo(f"{name}: {len(todo)} tasks run, {len(evaluation.tasks) - len(todo)} already done")
    lines = [line for line in _lines(results_path) if line["policy"] in config.policies]
    summary = summarize(lines, {task.id: preference_facts(task) for task in evaluation.tasks})
    write_atomically(out / SUMMARY, json.dumps(summary, indent=2) + "\n")
    write_atomically(out / TABLE, markdown_table(summary))
    (out / PARETO_PLOT).write_bytes(pareto_png(summary))
    (out / EXPERTS_PLOT).write_bytes(experts_png(summary))
    return EvalRun(out, summary, run, skipped, errors, time.perf_counter() - started, unit_seconds, environment_seconds)
