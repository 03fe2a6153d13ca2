"""A sample of the trainer's rollouts, logged in `toolscale eval`'s trajectory format (source "train", with the step).

The reward calls the log with each batch's scored rollouts; every `every_steps` steps (and at the first)
the first `groups` task groups are written, so a reviewer sees what the policy did and what it was paid.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from toolscale.train.config import TrajectorySampling
from toolscale.train.data import prompt
from toolscale.train.environment import ToolScaleEnvironment, episode_of
from toolscale.train.reward import Rollout, Scored
from toolscale.train.rollout import Labels, result_record, trajectory_record

TRAJECTORIES_FILE = "trajectories.jsonl"


class TrajectoryLog:
    def __init__(
        self, path: Path, sampling: TrajectorySampling, group_size: int, split: str, solo: bool, step: Callable[[], int]
    ) -> None:
        self.path = path
        self.sampling = sampling
        self.group_size = group_size
        self.split = split
        self.solo = solo
        self.step = step  # the optimizer step these rollouts are generated for
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("", encoding="utf-8")  # a rerun into the same folder starts a fresh log, like metrics.jsonl

    def __call__(
        self,
        environments: Sequence[ToolScaleEnvironment],
        completions: Sequence[Any],
        rollouts: Sequence[Rollout],
        scores: Sequence[Scored],
    ) -> None:
        step = self.step()
        every = self.sampling.every_steps
        if every == 0 or (step != 1 and step % every):
            return
        lines = []
        count = min(len(rollouts), self.sampling.groups * self.group_size)
        batch = zip(environments[:count], completions[:count], rollouts[:count], scores[:count], strict=True)
        for index, (environment, completion, rollout, score) in enumerate(batch):
            episode = episode_of(environment)
            labels = Labels(policy="train", split=self.split, trial=index % self.group_size, source="train", step=step)
            # The prompt's tokens are not counted at reward time: input is 0 in train lines (docs/eval.md).
            result = result_record(episode, rollout, score, labels, input_tokens=0, policy_seconds=0.0, error=None)
            completion_messages = [{"role": "assistant", "content": completion}] if isinstance(completion, str) else completion
            messages = [*prompt(episode.task, solo=self.solo), *completion_messages]
            lines.append(trajectory_record(result, episode, messages, labels))
        with self.path.open("a", encoding="utf-8") as file:
            file.writelines(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
