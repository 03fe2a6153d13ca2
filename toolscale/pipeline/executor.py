"""Runs stage calls as Ray tasks: a local Ray by default (started on first use, stopped on exit), or a cluster."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

import ray
from tqdm import tqdm

Result = TypeVar("Result")
SYSTEM_FAILURE_RETRIES = 3


class StageError(RuntimeError):
    """A stage call failed; the message names the call and the reason."""


class RayExecutor:
    """`map` submits every call at once and yields results as they finish, so the caller can record
    each finished unit before the next one lands (what makes an interrupted run resumable)."""

    def __init__(self, address: str | None = None, workers: int | None = None, *, progress: bool = True) -> None:
        self.address, self.workers, self.progress = address, workers, progress
        self._started = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self._started:
            ray.shutdown()

    def _start(self) -> None:
        if self._started:
            return
        if self.address is None:
            # A local cluster only this process uses: nothing to authenticate, no dashboard to serve.
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            # address="local": a new instance even when `ray start` has left a cluster running on this
            # machine, which a bare ray.init() would join instead.
            ray.init(
                address="local",
                num_cpus=self.workers,
                include_dashboard=False,
                logging_level=logging.WARNING,
                log_to_driver=False,
            )
        else:
            ray.init(address=self.address, logging_level=logging.WARNING)
        self._started = True

    def map(
        self, stage: Callable[..., Result], calls: Sequence[tuple[Any, ...]], *, description: str, names: Sequence[str]
    ) -> Iterator[tuple[int, Result]]:
        """(position in `calls`, result) for each call, in the order they finish; `names` label errors."""
        if not calls:
            return
        self._start()
        # Stages are pure, so a call lost with its worker or node is simply run again (Ray retries system
        # failures only; an exception raised by the stage itself is not retried and ends the run below).
        remote = ray.remote(num_cpus=1, max_retries=SYSTEM_FAILURE_RETRIES)(stage)
        pending = {remote.remote(*arguments): position for position, arguments in enumerate(calls)}
        with tqdm(total=len(calls), desc=description, unit="unit", disable=not self.progress) as bar:
            while pending:
                [done], _ = ray.wait(list(pending), num_returns=1)
                position = pending.pop(done)
                try:
                    result = ray.get(done)
                except ray.exceptions.RayError as error:
                    for reference in pending:
                        ray.cancel(reference, force=True)
                    # The stage's own exception, or the system failure Ray gave up retrying (a lost node).
                    cause = error.cause if isinstance(error, ray.exceptions.RayTaskError) else error
                    raise StageError(f"{description} {names[position]}: {cause}") from cause
                bar.update(1)
                yield position, result
