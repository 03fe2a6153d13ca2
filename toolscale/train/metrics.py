"""Training metrics: one JSON line per logging step, and a PNG of them.

Each line holds the step, TRL's own logs (loss, `reward`, `reward_std`, KL, clip ratios, completion
lengths, `tools/*`), the reward's per-component means and standard deviations and episode figures
(`reward/*`, `episode/*`, see `toolscale.train.reward.batch_metrics`), and `step_time_s`: the mean
wall time of the optimizer steps since the previous line.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on training machines

import matplotlib.pyplot as plt
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

METRICS_FILE = "metrics.jsonl"
PLOT_FILE = "metrics.png"


class JsonlMetrics(TrainerCallback):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._started = 0.0
        self._step_seconds: list[float] = []

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **_: Any) -> None:
        if state.is_world_process_zero:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("", encoding="utf-8")  # a rerun into the same folder starts a fresh log

    def on_step_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **_: Any) -> None:
        self._started = time.perf_counter()

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **_: Any) -> None:
        self._step_seconds.append(time.perf_counter() - self._started)

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        if not state.is_world_process_zero or not logs or not self._step_seconds:
            return  # the end-of-training summary comes after the last step's line and has no step time
        record = {"step": state.global_step, **logs, "step_time_s": sum(self._step_seconds) / len(self._step_seconds)}
        self._step_seconds = []
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")


def read_metrics(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


_PANELS: list[tuple[str, list[str]]] = [
    ("reward (mean, std)", ["reward", "reward_std"]),
    ("outcome correct", ["episode/correct"]),
    ("tool calls / episode", ["episode/tool_calls", "episode/expert_calls"]),
    ("tool-error rate", ["episode/tool_error_rate"]),
    ("tokens / episode", ["episode/tokens"]),
    ("step time (s)", ["step_time_s"]),
]


def plot_metrics(records: list[dict[str, Any]], path: Path) -> None:
    """A grid of panels: the reward, each reward component's mean, and the episode figures, against the step."""
    components = sorted({key for record in records for key in record if key.startswith("reward/") and key.endswith("/mean")})
    panels = [_PANELS[0], ("reward components (mean)", components), *_PANELS[1:]]
    figure, axes = plt.subplots(2, 4, figsize=(18, 8), constrained_layout=True)
    for axis, (title, keys) in zip(axes.flat, panels, strict=False):
        for key in keys:
            points = [(record["step"], record[key]) for record in records if key in record]
            if points:
                steps, values = zip(*points, strict=True)
                axis.plot(steps, values, marker=".", label=key.removeprefix("reward/").removesuffix("/mean"))
        axis.set_title(title)
        axis.set_xlabel("step")
        if len(keys) > 1:
            axis.legend(fontsize="small")
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
