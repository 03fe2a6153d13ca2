"""The reply cache opened by several processes at once, as Ray workers starting their units do."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from toolscale.llm.cache import ReplyCache
from toolscale.llm.types import ChatReply

PROCESSES = 8
TRIALS = 10  # without the wait for another opener, about one trial in five lost a process to "database is locked"


def open_and_put(path: str, start: Any, index: int, errors: Any) -> None:
    start.wait()  # all open the new file at the same moment
    try:
        cache = ReplyCache(Path(path))
        cache.put(f"key-{index}", ChatReply(text=str(index), input_tokens=1, output_tokens=1, seconds=0.0, cached=False))
        cache.close()
    except Exception as error:  # reported to the test, which names it
        errors.put(repr(error))


def test_processes_opening_one_new_cache_at_once_all_get_in(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for trial in range(TRIALS):
        path = tmp_path / f"cache-{trial}.sqlite"
        start, errors = context.Barrier(PROCESSES), context.Queue()
        processes = [context.Process(target=open_and_put, args=(str(path), start, i, errors)) for i in range(PROCESSES)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=60)
        failures = []
        while not errors.empty():
            failures.append(errors.get())
        assert failures == [], f"trial {trial}: {failures}"
        cache = ReplyCache(path)
        assert [cache.get(f"key-{i}") is not None for i in range(PROCESSES)] == [True] * PROCESSES
        cache.close()
