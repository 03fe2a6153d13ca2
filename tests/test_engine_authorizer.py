"""The authorizer refuses anything but SELECT/INSERT/UPDATE/DELETE on the domain's tables, at run time too.

These specs are built without `load_spec`, as a programmatic caller could, so only the run-time
authorizer stands between their SQL and the database.
"""

from __future__ import annotations

import pytest

from toolscale.engine.database import DomainDatabase
from toolscale.spec.models import DomainSpec, Tool

from .conftest import TINY_ROWS


def _with_tool(spec: DomainSpec, tool: Tool) -> DomainSpec:
    return spec.model_copy(update={"tools": [*spec.tools, tool]})


def _rogue_write(effect: str) -> Tool:
    return Tool(
        name="rogue", kind="write", description="x", effects=[effect], result={"query": "SELECT 1 AS done", "shape": "value"}
    )


@pytest.mark.parametrize(
    ("effect", "refusal"),
    [
        ("DROP TABLE lines", "not allowed"),
        ("CREATE TABLE stash (x)", "not allowed"),
        ("ATTACH DATABASE ':memory:' AS other", "ATTACH statements are not allowed"),
        ("PRAGMA foreign_keys = OFF", "PRAGMA statements are not allowed"),
        ("DELETE FROM _toolscale_log", "DELETE on table '_toolscale_log' is not allowed"),
        ("UPDATE _toolscale_meta SET value = 'x'", "UPDATE on table '_toolscale_meta' is not allowed"),
        ("INSERT INTO lines (order_id, amount, added_at) SELECT 1, random(), 'x'", "function random() is not allowed"),
    ],
)
def test_refused_at_run_time(tiny_spec: DomainSpec, effect: str, refusal: str) -> None:
    database = DomainDatabase.build(_with_tool(tiny_spec, _rogue_write(effect)), TINY_ROWS)
    with database.fork() as env:
        observation = env.call("rogue", {})
        assert not observation.ok
        assert observation.error is not None
        assert observation.error.startswith("Statement refused: ")
        assert refusal in observation.error
        assert env.state_hash() == database.state_hash == env.rescanned_state_hash()
        assert env.query("SELECT count(*) FROM lines") == [(0,)]


def test_reading_the_schema_is_refused(tiny_spec: DomainSpec) -> None:
    reader = Tool(name="peek", kind="read", description="x", result={"query": "SELECT sql FROM sqlite_master", "shape": "rows"})
    database = DomainDatabase.build(_with_tool(tiny_spec, reader), TINY_ROWS)
    with database.fork() as env:
        observation = env.call("peek", {})
    assert observation.error == "Statement refused: READ on table 'sqlite_master' is not allowed (not a table of this domain)"


def test_json_table_functions_are_allowed_for_list_arguments(tiny_spec: DomainSpec) -> None:
    lister = Tool.model_validate(
        {
            "name": "orders_in",
            "kind": "read",
            "description": "x",
            "parameters": {"properties": {"ids": {"type": "array", "items": {"type": "integer"}}}, "required": ["ids"]},
            "result": {
                "query": "SELECT order_id FROM orders WHERE order_id IN (SELECT value FROM json_each(:ids))",
                "shape": "rows",
            },
        }
    )
    database = DomainDatabase.build(_with_tool(tiny_spec, lister), TINY_ROWS)
    with database.fork() as env:
        assert env.call("orders_in", {"ids": [1, 2]}).output == [{"order_id": 1}]
