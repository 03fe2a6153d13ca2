"""Populate throughput: rows generated per second, and the time of a ~100k-row bank database, on one core.

Counts the whole stage: generators, staging with the consistency rules and constraints, and the
engine's build (insert, state digests, serialized image). Target: 100k bank rows in under 10 s.
"""

from __future__ import annotations

import time

from toolscale.domain.loader import domain_names, load_domain
from toolscale.engine.database import DomainDatabase
from toolscale.populate.stage import default_size, populate

TARGET_ROWS = 100_000
TARGET_SECONDS = 10.0


def _rows(database: DomainDatabase) -> int:
    with database.fork() as environment:
        return sum(environment.query(f"SELECT count(*) FROM {table.name}")[0][0] for table in database.spec.tables)


def _timed(domain: str, size: int) -> tuple[int, float]:
    spec = load_domain(domain)
    start = time.perf_counter()
    database = populate(spec, size, seed=0)
    elapsed = time.perf_counter() - start
    return _rows(database), elapsed


def main() -> None:
    print("populate: rows/s at each domain's default size")
    for domain in domain_names():
        spec = load_domain(domain)
        if not any(column.generator for table in spec.tables for column in table.columns):
            continue
        rows, elapsed = _timed(domain, default_size(spec))
        print(f"  {domain:<12} {rows:>9,} rows  {elapsed:6.2f} s  {rows / elapsed:>10,.0f} rows/s")
    bank = load_domain("bank")
    # Rows grow about linearly with the caller table: scale the size up until the run reaches the target.
    size, rows, elapsed = default_size(bank), 0, 0.0
    while rows < TARGET_ROWS:
        if rows:
            size = -(-size * TARGET_ROWS // rows) + 1
        rows, elapsed = _timed("bank", size)
    verdict = "ok" if elapsed < TARGET_SECONDS and rows >= TARGET_ROWS else "MISSED"
    print(
        f"bank at size {size:,}: {rows:,} rows in {elapsed:.2f} s ({rows / elapsed:,.0f} rows/s); "
        f"target {TARGET_ROWS:,} rows < {TARGET_SECONDS:.0f} s: {verdict}"
    )


if __name__ == "__main__":
    main()
