"""The engine under hostile calls and every kind of write: it never raises, the incremental state hash
stays exact, and a refusal belongs to the call that caused it."""

from __future__ import annotations

import json
import random
import sqlite3
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolscale.engine.database import DomainDatabase
from toolscale.examples import example_database
from toolscale.spec.models import DomainSpec, Tool

from .conftest import TINY_ROWS

# Every way SQLite lets a statement insert, replace, update or delete a row; the REPLACE forms delete the
# conflicting row implicitly (the email is UNIQUE, so they may delete a row other than the one named).
WRITES = {
    "replace_into": "REPLACE INTO customers (customer_id, email) VALUES (:id, :email)",
    "insert_or_replace": "INSERT OR REPLACE INTO customers (customer_id, email) VALUES (:id, :email)",
    "insert_or_replace_select": "INSERT OR REPLACE INTO customers SELECT :id, :email",
    "upsert": "INSERT INTO customers (customer_id, email) VALUES (:id, :email) "
    "ON CONFLICT (customer_id) DO UPDATE SET email = excluded.email",
    "upsert_nothing": "INSERT INTO customers (customer_id, email) VALUES (:id, :email) ON CONFLICT DO NOTHING",
    "insert_or_ignore": "INSERT OR IGNORE INTO customers (customer_id, email) VALUES (:id, :email)",
    "update_or_replace": "UPDATE OR REPLACE customers SET email = :email WHERE customer_id = :id",
    "update_key_or_replace": "UPDATE OR REPLACE customers SET customer_id = :email WHERE customer_id = :id",
    "update": "UPDATE customers SET email = :email || '!' WHERE customer_id = :id",
    "delete": "DELETE FROM customers WHERE customer_id = :id OR email = :email",
    "delete_all_orderless": "DELETE FROM customers WHERE customer_id NOT IN (SELECT customer_id FROM orders)",
}


def _writer(name: str, sql: str) -> Tool:
    return Tool.model_validate(
        {
            "name": name,
            "kind": "write",
            "description": "x",
            "parameters": {"properties": {"id": {"type": "string"}, "email": {"type": "string"}}, "required": ["id", "email"]},
            "effects": [sql],
            "result": {"query": "SELECT count(*) AS n FROM customers", "shape": "value"},
        }
    )


def _writes_database(tiny_spec: DomainSpec) -> DomainDatabase:
    tools = [*tiny_spec.tools, *(_writer(name, sql) for name, sql in WRITES.items())]
    customers = [{"customer_id": f"C{i}", "email": f"c{i}"} for i in range(1, 5)]
    return DomainDatabase.build(tiny_spec.model_copy(update={"tools": tools}), {**TINY_ROWS, "customers": customers})


KEYS = ["C1", "C2", "C3", "C4", "C5", "c1", "c2"]
write_calls = st.lists(
    st.tuples(st.sampled_from(sorted(WRITES)), st.sampled_from(KEYS), st.sampled_from(KEYS)), min_size=1, max_size=8
)


@settings(max_examples=150, deadline=None)
@given(calls=write_calls)
def test_the_incremental_hash_equals_a_rescan_under_every_kind_of_write(
    tiny_spec: DomainSpec, calls: list[tuple[str, str, str]]
) -> None:
    database = _writes_database(tiny_spec)
    with database.fork() as env:
        for name, key, email in calls:
            observation = env.call(name, {"id": key, "email": email})
            assert observation.ok or observation.reason == "constraint", observation
            assert env.state_hash() == env.rescanned_state_hash(), (name, key, email)


def test_replace_deleting_another_row_is_seen_by_the_hash_and_the_diff(tiny_spec: DomainSpec) -> None:
    database = _writes_database(tiny_spec)
    with database.fork() as env:
        # C2 takes C3's email: REPLACE deletes C3 to make room, then writes C2 anew.
        assert env.call("update_or_replace", {"id": "C2", "email": "c3"}).ok
        assert env.state_hash() == env.rescanned_state_hash()
        assert env.state_diff()["customers"]["C3"] == {"before": {"customer_id": "C3", "email": "c3"}, "after": None}


def _refusing_reader(tiny_spec: DomainSpec) -> DomainDatabase:
    peek = Tool.model_validate(
        {"name": "peek", "kind": "read", "description": "x", "result": {"query": "SELECT sql FROM sqlite_master"}}
    )
    return DomainDatabase.build(tiny_spec.model_copy(update={"tools": [*tiny_spec.tools, peek]}), TINY_ROWS)


def test_a_refusal_is_not_reported_for_a_later_failure(tiny_spec: DomainSpec) -> None:
    database = _refusing_reader(tiny_spec)
    over_limit = {"order_id": 1, "amount": 500.0}  # the order's limit is 100
    with database.fork() as env:
        with pytest.raises(sqlite3.DatabaseError, match="prohibited"):
            env.query("SELECT * FROM sqlite_master")
        assert env.call("add_line", over_limit).error == "The order total may not exceed its limit."
    # Nor in the next episode, which gets the same pooled copy.
    with database.fork() as env:
        assert env.call("peek", {}).reason == "refused"
    with database.fork() as env:
        assert env.call("add_line", over_limit).reason == "constraint"


# ---- fuzzing: 10,000 calls that a model could make, most of them hostile ---------------------------

BANK = example_database("bank")
IDS = ["CL-000001", "CL-000002", "ACC-0000001", "ACC-0000002", "ACC-0000004", "CARD-0000001", "PAY-0000001"]


def _hostile_text(rng: random.Random) -> str:
    pool = ["\udfff", "\ud800", "\x00", "now", "'; DROP TABLE clients; --", "\u202e", "💳", "%.*c", "a" * 300, "NaN"]
    return "".join(
        rng.choice(pool) if rng.random() < 0.5 else chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(0, 6))
    )


def _scalar(rng: random.Random) -> Any:
    choice = rng.randrange(9)
    if choice == 0:
        return _hostile_text(rng)
    if choice == 1:
        return rng.choice([float("nan"), float("inf"), -float("inf"), 1e308, -0.0, 5e-324])
    if choice == 2:
        return rng.choice([2**63, -(2**63) - 1, 10**40, 2**63 - 1, -(2**63)])
    if choice == 3:
        return rng.choice([True, False, None])
    if choice == 4:
        return rng.uniform(-1e6, 1e6)
    if choice == 5:
        return rng.randrange(-5, 5000)
    return rng.choice(IDS)


def _deep(rng: random.Random) -> Any:
    value: Any = _scalar(rng)
    for _ in range(rng.choice([5, 40, 200, 5000])):
        value = [value] if rng.random() < 0.5 else {"k": value}
    return value


def _arguments(rng: random.Random, parameters: list[str]) -> Any:
    shape = rng.randrange(10)
    if shape == 0:
        return _deep(rng)
    if shape == 1:
        return rng.choice([[], "", "null", "[1, 2]", "{", '{"a": NaN}', '{"x": 1e999}', "[" * 100_000, 17, None])
    arguments = {name: (_scalar(rng) if rng.random() < 0.8 else _deep(rng)) for name in parameters if rng.random() < 0.9}
    if shape == 2:
        arguments[_hostile_text(rng)] = 1
    # Half of the calls come as the JSON text a model writes (with \\udfff escapes, NaN and all).
    if shape >= 6:
        try:
            return json.dumps(arguments)
        except (ValueError, RecursionError):
            return arguments
    return arguments


def test_ten_thousand_hostile_calls_never_raise_and_failures_change_nothing() -> None:
    rng = random.Random(11)
    names = sorted(BANK.tools)
    calls = failures = 0
    with BANK.fork() as env:
        while calls < 10_000:
            name = rng.choice(names) if rng.random() < 0.95 else rng.choice(["", "\udfff", "get_account "])
            tool = BANK.tools.get(name)
            arguments = _arguments(rng, list(tool.spec.parameters.properties) if tool else ["x"])
            before = env.state_hash()
            observation = env.call(name, arguments)
            calls += 1
            observation.content.encode("utf-8")  # what the agent is shown is always valid text
            if not observation.ok:
                failures += 1
                assert observation.error
                assert env.state_hash() == before
            if calls % 500 == 0:
                assert env.state_hash() == env.rescanned_state_hash()
    assert failures > 5_000  # the stream is mostly hostile: the property was exercised
