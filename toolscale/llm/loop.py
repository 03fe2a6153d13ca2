"""An event loop on its own thread, so synchronous callers can run coroutines from anywhere.

`complete` is called from plain scripts, from threads, from Ray workers and from code that already runs
an event loop; a loop owned by the client serves all of them, and keeps the HTTP connections, the
semaphore and the rate limiters on one loop across batches.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        # A daemon thread: a caller that never closes the client must not keep the process alive.
        self._thread = threading.Thread(target=self._loop.run_forever, name="toolscale-llm", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
