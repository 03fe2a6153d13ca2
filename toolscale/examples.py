"""Hand-written example tasks of a domain (`domains/<name>/examples/`), replayed end to end.

Each example has gold actions and the final state they must produce. Replaying them proves that a
domain's spec, its fixture rows and the engine agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from toolscale.domain.loader import domain_dir, load_domain
from toolscale.engine.database import DomainDatabase
from toolscale.engine.environment import Observation, StateDiff
from toolscale.strict import StrictModel
from toolscale.tasks.verify import Action
from toolscale.yamlfile import read_yaml_file

FIXTURE_FILE = "examples/fixture.yaml"
TASKS_FILE = "examples/tasks.yaml"


class ExampleTask(StrictModel):
    id: str
    instruction: str
    actions: list[Action] = Field(min_length=1)
    # table -> primary key -> the columns the row must end with (None: the row is deleted)
    expected_changes: dict[str, dict[str, dict[str, Any] | None]]


@dataclass(frozen=True)
class ExampleResult:
    task: ExampleTask
    observations: list[Observation]
    mismatches: list[str]
    final_hash: str

    @property
    def passed(self) -> bool:
        return not self.mismatches


def example_database(domain: str) -> DomainDatabase:
    """The domain's database built from its hand-written fixture rows."""
    return DomainDatabase.build(load_domain(domain), read_yaml_file(domain_dir(domain) / FIXTURE_FILE))


def example_tasks(domain: str) -> list[ExampleTask]:
    return [ExampleTask.model_validate(task) for task in read_yaml_file(domain_dir(domain) / TASKS_FILE)]


def compare_changes(diff: StateDiff, expected: dict[str, dict[str, dict[str, Any] | None]]) -> Iterator[str]:
    """Differences between the episode's state diff and the expected changes, one line each."""
    for table in sorted(set(diff) | set(expected)):
        actual_rows, expected_rows = diff.get(table, {}), expected.get(table, {})
        for key in sorted(set(actual_rows) | set(expected_rows)):
            where = f"{table}[{key}]"
            if key not in expected_rows:
                yield f"{where}: changed but not expected to: {actual_rows[key]}"
                continue
            if key not in actual_rows:
                yield f"{where}: expected to change, unchanged"
                continue
            before, after = actual_rows[key]["before"], actual_rows[key]["after"]
            wanted = expected_rows[key]
            if wanted is None or after is None:
                if wanted is not after:
                    yield f"{where}: expected {'deletion' if wanted is None else wanted}, got {after}"
                continue
            for column, value in wanted.items():
                if after.get(column) != value:
                    yield f"{where}.{column}: expected {value!r}, got {after.get(column)!r}"
            if before is not None:
                for column in sorted(set(after) - set(wanted)):
                    if before[column] != after[column]:
                        yield f"{where}.{column}: changed from {before[column]!r} to {after[column]!r}, not expected"


def replay_example(database: DomainDatabase, task: ExampleTask) -> ExampleResult:
    with database.fork() as env:
        observations = [env.call(action.name, action.arguments) for action in task.actions]
        mismatches = [
            f"action {index} ({task.actions[index].name}) failed: {observation.error}"
            for index, observation in enumerate(observations)
            if not observation.ok
        ]
        mismatches += compare_changes(env.state_diff(), task.expected_changes)
        return ExampleResult(task=task, observations=observations, mismatches=mismatches, final_hash=env.state_hash())
