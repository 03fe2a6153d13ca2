"""Task synthesis + verification throughput on one core (target: at least 500 candidates/s)."""

from __future__ import annotations

import time

from toolscale.domain.loader import domain_dir, load_domain
from toolscale.populate.stage import default_size, populate
from toolscale.tasks.grammar import GRAMMAR_FILE, load_grammar
from toolscale.tasks.preference import SynthesisConfig
from toolscale.tasks.run import synthesize_domain

CANDIDATES = 1000
ROUNDS = 3  # best of: the least disturbed run, as the engine benchmark does


def main() -> None:
    print(f"synthesis + verification, {CANDIDATES} candidates per domain at its default size (one core, best of {ROUNDS})")
    total_candidates, total_seconds = 0, 0.0
    for path in sorted(domain_dir("bank").parent.glob(f"*/{GRAMMAR_FILE}")):
        spec = load_domain(path.parent.name)
        database = populate(spec, default_size(spec), seed=0)
        grammar = load_grammar(path, spec)
        synthesize_domain(database, grammar, SynthesisConfig(), seed=1, indices=range(20))  # warm the connection pool
        seconds = float("inf")
        for _ in range(ROUNDS):
            start = time.perf_counter()
            result = synthesize_domain(database, grammar, SynthesisConfig(), seed=0, indices=range(CANDIDATES))
            seconds = min(seconds, time.perf_counter() - start)
        total_candidates, total_seconds = total_candidates + CANDIDATES, total_seconds + seconds
        kept = result.funnel["kept"]
        print(f"  {spec.name:<11} {CANDIDATES / seconds:>7,.0f} candidates/s   kept {kept:>5,} ({kept / CANDIDATES:.0%})")
    print(f"  {'all':<11} {total_candidates / total_seconds:>7,.0f} candidates/s   (target >= 500)")


if __name__ == "__main__":
    main()
