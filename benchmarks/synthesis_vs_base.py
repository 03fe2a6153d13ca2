"""Synthesis + verification throughput against an earlier commit, side by side (issue 13's speed figure).

Absolute figures differ about 2x between machines and drift within a session, so the earlier commit's own
`benchmarks.synthesis` runs in a checkout of it (a git worktree in a temporary folder), alternating with
this tree's on the same interpreter; the figure is this tree's candidates/s over the earlier one's, per
domain and overall, for each round and as the median of the rounds.

    python -m benchmarks.synthesis_vs_base [--commit 4944245] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BASE_COMMIT = "4944245"  # the last commit before issue 13's checks, pools and phrasings
TARGET = 0.80
ROOT = Path(__file__).resolve().parents[1]
_FIGURE = re.compile(r"^\s+(\w+)\s+([\d,]+) candidates/s")


def _throughput(tree: Path) -> dict[str, int]:
    """Candidates/s per domain (and 'all') from the tree's own synthesis benchmark."""
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.synthesis"], cwd=tree, env=environment, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"benchmarks.synthesis failed in {tree}: {last}")
    return {match[1]: int(match[2].replace(",", "")) for line in done.stdout.splitlines() if (match := _FIGURE.match(line))}


def _check_out(commit: str, where: Path) -> None:
    added = subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), commit], capture_output=True, text=True, check=False
    )
    if added.returncode != 0:
        raise SystemExit(f"cannot check out {commit} (a shallow clone lacks it: git fetch --unshallow): {added.stderr.strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", default=BASE_COMMIT, help="the earlier commit to compare with")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two trees")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    ratios: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="toolscale-bench-") as scratch:
        base = Path(scratch) / "base"
        _check_out(args.commit, base)
        try:
            for number in range(1, args.rounds + 1):
                before, after = _throughput(base), _throughput(ROOT)
                if "all" not in before or "all" not in after:
                    raise SystemExit("a synthesis benchmark printed no 'all' figure; its output format differs")
                for domain in after.keys() & before.keys():
                    ratios.setdefault(domain, []).append(after[domain] / before[domain])
                ratio = ratios["all"][-1]
                print(f"round {number}: {args.commit} {before['all']:,} candidates/s, this tree {after['all']:,} ({ratio:.2f})")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], capture_output=True, check=False)
    print(f"this tree / {args.commit}, synthesis + verification per core (target >= {TARGET:.2f}):")
    for domain in sorted(ratios, key=lambda name: (name == "all", name)):
        rounds = "  ".join(f"{ratio:.2f}" for ratio in ratios[domain])
        print(f"  {domain:<11} median {statistics.median(ratios[domain]):.2f}   rounds {rounds}")


if __name__ == "__main__":
    main()
