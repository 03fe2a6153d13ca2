"""τ²-bench retail, replayed on the ported domain: every task's gold actions on a fresh episode, then
the final-state check (our upstream-format diff must equal the recorded one).

Prints tasks/s and the per-task median, and the ratio to τ²-bench's ~0.7 s per task. Reads the
reference data from ../shared/reference/tau2-retail (beside the repository).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from toolscale.tau2 import retail
from toolscale.tau2.replay import Replayer

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "tau2-retail"
TAU2_SECONDS_PER_TASK = 0.7
TARGET_SPEEDUP = 500
ROUNDS = 5


def run_task(replayer: Replayer, actions: list[dict[str, Any]], expected_diff: str) -> bool:
    """Replay one task and check its final state against upstream's (its canonical diff text)."""
    result = replayer.replay({"actions": actions})
    return retail.canonical(result["final_db_diff"]) == expected_diff


def main() -> None:
    gold_file = REFERENCE / "gold_replay.jsonl"
    if not gold_file.exists():
        sys.exit(f"benchmarks.retail: reference data not found at {gold_file}")
    tasks = [json.loads(line) for line in gold_file.read_text(encoding="utf-8").splitlines()]
    # The expected final states are data, prepared once, like an expected hash would be.
    expected = {gold["task_id"]: retail.canonical(gold["final_db_diff"]) for gold in tasks}
    start = time.perf_counter()
    replayer = Replayer.for_domain("retail")
    setup = time.perf_counter() - start

    per_task: list[float] = []
    best_round = float("inf")
    failures: set[str] = set()
    for _ in range(ROUNDS):
        round_start = time.perf_counter()
        for gold in tasks:
            task_start = time.perf_counter()
            if not run_task(replayer, gold["actions"], expected[gold["task_id"]]):
                failures.add(gold["task_id"])
            per_task.append(time.perf_counter() - task_start)
        best_round = min(best_round, time.perf_counter() - round_start)

    median = statistics.median(per_task)
    actions = sum(len(gold["actions"]) for gold in tasks)
    print(f"tau2 retail replay: {len(tasks)} tasks, {actions} gold actions, final state checked against upstream's diff")
    print(f"  setup (build database from db.json, export initial state): {setup:.2f} s")
    print(f"  {len(tasks) / best_round:,.0f} tasks/s (best of {ROUNDS} rounds), {actions / best_round:,.0f} calls/s")
    print(f"  per-task median {median * 1e3:.3f} ms: {TAU2_SECONDS_PER_TASK / median:,.0f}x faster than tau2-bench's ~0.7 s")
    print(f"    (target: at least {TARGET_SPEEDUP}x, i.e. <= {TAU2_SECONDS_PER_TASK / TARGET_SPEEDUP * 1e3:.1f} ms)")
    if failures:
        sys.exit(f"  final state differs from upstream's in task(s) {sorted(failures, key=int)}")
    print(f"  final state equals upstream's in all {len(tasks)} tasks")


if __name__ == "__main__":
    main()
