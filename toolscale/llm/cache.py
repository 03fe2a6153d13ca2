"""Replies kept on disk by what was asked, so a rerun sends nothing and a killed run resumes.

The key hashes everything that shapes an answer: the backend, the model, the sampling parameters in
force and the request itself (messages, schema, tools, seed), but not the stage, which only labels who
asked. Only replies are stored, never failures: a failure is asked again next run. Each reply is
committed as it arrives. SQLite in WAL mode lets several processes on one machine share the file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from toolscale.llm.types import ChatReply, ChatRequest

_SCHEMA = "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL)"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cache_key(backend: str, model: str, params: dict[str, Any], request: ChatRequest) -> str:
    asked = request.model_dump(mode="json", exclude={"stage"})
    return hashlib.sha256(canonical_json([backend, model, params, asked]).encode()).hexdigest()


# How long opening the cache waits for another process that is setting the same file up.
SETUP_WAIT_S = 30.0


def _set_up(connection: sqlite3.Connection) -> None:
    """WAL mode, the commit level and the table. Switching a new file to WAL takes a lock that SQLite's busy
    timeout does not wait for, so processes opening one cache at the same moment (Ray workers starting
    their units) would fail at once with "database is locked": they wait for each other here instead."""
    deadline = time.monotonic() + SETUP_WAIT_S
    while True:
        try:
            if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                connection.execute("PRAGMA journal_mode=WAL")
            # Committed replies survive a killed process; only a power cut may lose the last few.
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(_SCHEMA)
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class ReplyCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the caller's thread and the client's event-loop thread, behind a lock.
        self._connection = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            _set_up(self._connection)

    def get(self, key: str) -> ChatReply | None:
        with self._lock:
            row = self._connection.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return ChatReply.model_validate_json(row[0]).model_copy(update={"cached": True})

    def put(self, key: str, reply: ChatReply) -> None:
        stored = reply.model_copy(update={"cached": False}).model_dump_json()
        with self._lock:
            self._connection.execute("INSERT OR REPLACE INTO replies (key, reply) VALUES (?, ?)", (key, stored))

    def close(self) -> None:
        with self._lock:
            self._connection.close()
