"""The default pipeline run end to end (a fresh output directory each time): wall time, tasks/s, and
how much a second Ray worker buys over one."""

from __future__ import annotations

import tempfile
from pathlib import Path

from toolscale.pipeline.config import load_run_config
from toolscale.pipeline.run import run_pipeline

CONFIG = Path("pipelines/default.yaml")


def timed_run(workers: int) -> tuple[float, int]:
    config = load_run_config(CONFIG)
    with tempfile.TemporaryDirectory() as directory:
        summary = run_pipeline(config.model_copy(update={"output_dir": Path(directory)}), workers=workers, progress=False)
    return summary.seconds, sum(summary.tasks.values())


def main() -> None:
    print(f"pipeline: {CONFIG} from scratch (Ray start, populate, synthesize + verify, export)")
    seconds = {}
    for workers in (1, 2):
        seconds[workers], tasks = timed_run(workers)
        rate = tasks / seconds[workers]
        label = f"{workers} worker{'s' if workers > 1 else ''}"
        print(f"  {label:<9} {seconds[workers]:6.1f} s   {rate:6.0f} tasks/s  ({tasks:,} tasks)")
    print(f"  2 workers vs 1: {seconds[1] / seconds[2]:.2f}x faster (ideal 2.00x)")


if __name__ == "__main__":
    main()
