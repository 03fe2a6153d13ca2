"""Engine throughput on the bank domain scaled to about 10k rows, on one core.

Prints read calls/s, write calls/s and fork + replay + final-state check per task (5-action tasks),
with the issue's targets and the ratio to τ²-bench's ~0.7 s replay of one retail task.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from toolscale.domain.loader import load_domain
from toolscale.engine.database import DomainDatabase
from toolscale.engine.environment import Environment
from toolscale.populate.stage import populate

CLIENTS = 800  # about 10.5k rows over the bank's five tables
TAU2_SECONDS_PER_TASK = 0.7
Call = tuple[str, dict[str, Any]]


def _rate(count: int, run: Callable[[], None], repeats: int = 3) -> float:
    """Best of `repeats` runs, in operations per second (the least disturbed run)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return count / best


def _transfer_tasks(env: Environment) -> list[list[Call]]:
    """Five-action tasks: authenticate, list accounts, read one, transfer, read the transactions."""
    rows = env.query(
        """SELECT c.client_id, c.email, a.account_id, b.account_id FROM clients c
           JOIN accounts a ON a.client_id = c.client_id AND a.status = 'open' AND a.balance > 20
           JOIN accounts b ON b.client_id = c.client_id AND b.status = 'open' AND b.account_id <> a.account_id
           WHERE c.status = 'active' GROUP BY c.client_id ORDER BY c.client_id"""
    )
    return [
        [
            ("find_client_by_email", {"email": email}),
            ("list_accounts", {"client_id": client}),
            ("get_account", {"client_id": client, "account_id": source}),
            (
                "transfer_between_own_accounts",
                {"client_id": client, "from_account_id": source, "to_account_id": target, "amount": 10},
            ),
            ("list_transactions", {"client_id": client, "account_id": target, "limit": 5}),
        ]
        for client, email, source, target in rows
    ]


def _replay(database: DomainDatabase, task: list[Call]) -> str:
    with database.fork() as env:
        for name, arguments in task:
            if not env.call(name, arguments).ok:
                raise RuntimeError(f"gold action {name} failed")
        return env.state_hash()


def main() -> None:
    start = time.perf_counter()
    database = populate(load_domain("bank"), CLIENTS, seed=0)
    built = time.perf_counter() - start
    with database.fork() as env:
        table_rows = {table.name: env.query(f"SELECT count(*) FROM {table.name}")[0][0] for table in database.spec.tables}
        accounts = env.query("SELECT client_id, account_id FROM accounts ORDER BY account_id")
        tasks = _transfer_tasks(env)
    size = f"{sum(table_rows.values()):,} rows {table_rows}, {len(database.image) / 1e6:.1f} MB"
    print(f"bank at {CLIENTS} clients: {size}, built in {built:.2f} s")

    reads = [("get_account", {"client_id": client, "account_id": account}) for client, account in accounts]
    with database.fork() as env:

        def read_all() -> None:
            for name, arguments in reads:
                env.call(name, arguments)

        read_rate = _rate(len(reads), read_all)

    writes = [("set_card_daily_limit", {"client_id": "", "card_id": "", "daily_limit": 100 + i % 7}) for i in range(2000)]
    with database.fork() as env:
        cards = env.query(
            "SELECT a.client_id, c.card_id FROM cards c JOIN accounts a USING (account_id) WHERE c.status <> 'cancelled'"
        )
        for index, (_, arguments) in enumerate(writes):
            arguments["client_id"], arguments["card_id"] = cards[index % len(cards)]

        def write_all() -> None:
            for name, arguments in writes:
                if not env.call(name, arguments).ok:
                    raise RuntimeError("benchmark write failed")

        write_rate = _rate(len(writes), write_all)

    expected = [_replay(database, task) for task in tasks]
    durations: list[float] = []

    def check_all() -> None:
        for task, final_hash in zip(tasks, expected, strict=True):
            began = time.perf_counter()
            if _replay(database, task) != final_hash:
                raise RuntimeError("replay is not deterministic")
            durations.append(time.perf_counter() - began)

    task_rate = _rate(len(tasks), check_all)
    median = statistics.median(durations)
    print(f"read calls/s           {read_rate:>10,.0f}   (target >= 20,000; get_account)")
    print(f"write calls/s          {write_rate:>10,.0f}   (set_card_daily_limit, savepoint + state bookkeeping)")
    workload = f"{len(tasks)} five-action tasks, median {median * 1e6:.0f} us"
    print(f"fork+replay+check /s   {task_rate:>10,.0f}   (target >= 1,000; {workload})")
    print(f"vs tau2-bench replay   {TAU2_SECONDS_PER_TASK / median:>10,.0f}x  (its ~{TAU2_SECONDS_PER_TASK} s per retail task)")


if __name__ == "__main__":
    main()
