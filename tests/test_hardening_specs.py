"""A malicious-spec corpus: every statement a careless or hostile spec author (or a model writing
specs) can slip in is refused by validation with its reason, or bounded when it runs.

Budgets are counted in SQLite steps (toolscale.engine.limits), so each bounded case ends the same way
on every machine; none of them can hang a call, a validation or a populate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from toolscale.domain.loader import load_spec
from toolscale.engine.database import DomainDatabase
from toolscale.engine.limits import CALL_STEPS, STATEMENT_STEPS
from toolscale.populate.stage import apply_rules
from toolscale.populate.values import PopulateError
from toolscale.spec.errors import SpecError
from toolscale.spec.models import DomainSpec, Tool

from .conftest import TINY_ROWS, TINY_SPEC
from .spec_helpers import assert_rejected, write_spec

RECURSIVE = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT max(i) AS n FROM r"
# Named like a real table, the CTE hides it: a check of table names alone would not see the recursion.
RECURSIVE_AS_TABLE = (
    "WITH RECURSIVE orders(order_id) AS (SELECT 1 UNION ALL SELECT order_id + 1 FROM orders) SELECT count(*) AS n FROM orders"
)
BUDGET = "ran over its budget of"
CLOCK = "reads the wall clock"

# (case id, where the SQL goes, the SQL, the reason validation gives)
VALIDATION_CASES = [
    ("date-now", "result", "SELECT date('now') AS d", "'now' reads the wall clock"),
    ("date-now-upper", "result", "SELECT date('NOW') AS d", "'now' reads the wall clock"),
    ("datetime-now-effect", "effect", "UPDATE orders SET status = strftime('%Y', 'now')", "'now' reads the wall clock"),
    ("current-date", "result", "SELECT CURRENT_DATE AS d", "function current_date() is not allowed"),
    ("current-time", "result", "SELECT CURRENT_TIME AS d", "function current_time() is not allowed"),
    (
        "current-timestamp",
        "effect",
        "UPDATE orders SET status = CURRENT_TIMESTAMP",
        "function current_timestamp() is not allowed",
    ),
    ("date-no-argument", "result", "SELECT date() AS d", "date() without a time value"),
    ("time-no-argument", "result", "SELECT time() AS d", "time() without a time value"),
    ("julianday-no-argument", "fail_if", "SELECT julianday() AS d WHERE 0", "julianday() without a time value"),
    ("unixepoch-no-argument", "result", "SELECT unixepoch() AS d", "unixepoch() without a time value"),
    ("strftime-no-time", "result", "SELECT strftime('%Y') AS d", "strftime() without a time value"),
    ("now-built-at-run-time", "result", "SELECT date('n' || 'ow') AS d", "date() with 'now' reads the wall clock"),
    (
        "localtime",
        "result",
        "SELECT date(:today, 'localtime') AS d",
        "'localtime' reads the wall clock or the machine's time zone",
    ),
    ("utc", "result", "SELECT date(:today, 'utc') AS d", "'utc' reads the wall clock or the machine's time zone"),
    ("julianday-now-effect", "effect", "UPDATE orders SET total = julianday('now')", "'now' reads the wall clock"),
    ("random", "result", "SELECT random() AS d", "function random() is not allowed"),
    ("randomblob", "result", "SELECT hex(randomblob(4)) AS d", "function randomblob() is not allowed"),
    ("changes", "result", "SELECT changes() AS d", "function changes() is not allowed"),
    ("total-changes", "result", "SELECT total_changes() AS d", "function total_changes() is not allowed"),
    ("last-insert-rowid", "result", "SELECT last_insert_rowid() AS d", "function last_insert_rowid() is not allowed"),
    ("load-extension", "result", "SELECT load_extension('evil') AS d", "function load_extension() is not allowed"),
    ("drop-table", "effect", "DROP TABLE lines", "DROP TABLE statements are not allowed"),
    ("create-table", "effect", "CREATE TABLE stash (x)", "CREATE TABLE statements are not allowed"),
    (
        "create-trigger",
        "effect",
        "CREATE TRIGGER t AFTER INSERT ON lines BEGIN DELETE FROM lines; END",
        "CREATE TRIGGER statements are not allowed",
    ),
    ("create-view", "effect", "CREATE VIEW v AS SELECT 1", "CREATE VIEW statements are not allowed"),
    ("create-index", "effect", "CREATE INDEX ix ON lines (amount)", "CREATE INDEX statements are not allowed"),
    ("alter-table", "effect", "ALTER TABLE lines ADD COLUMN x", "ALTER TABLE statements are not allowed"),
    ("analyze", "effect", "ANALYZE", "ANALYZE statements are not allowed"),
    ("reindex", "effect", "REINDEX", "REINDEX statements are not allowed"),
    ("pragma", "effect", "PRAGMA foreign_keys = OFF", "PRAGMA statements are not allowed"),
    ("attach", "effect", "ATTACH DATABASE ':memory:' AS other", "ATTACH statements are not allowed"),
    ("schema-read", "result", "SELECT sql FROM sqlite_master", "touches tables that are not the domain's: ['sqlite_master']"),
    ("change-log-write", "effect", "DELETE FROM _toolscale_log", "touches tables that are not the domain's: ['_toolscale_log']"),
    ("recursive-cte", "result", RECURSIVE, BUDGET),
    ("recursive-cte-named-like-a-table", "result", RECURSIVE_AS_TABLE, BUDGET),
    ("recursive-cte-in-fail-if", "fail_if", RECURSIVE, BUDGET),
    (
        "printf-huge-precision",
        "result",
        "SELECT printf('%.*c', 900000000, 'x') AS d",
        "printf() with a width or precision of 900,000,000",
    ),
    ("printf-huge-width", "result", "SELECT format('%900000000d', 1) AS d", "format() with a width or precision of 900,000,000"),
    ("zeroblob", "result", "SELECT length(zeroblob(400000000)) AS d", "string or blob too big"),
    ("check-injection", "check", "1) OR (1", "unbalanced ')' at character 2"),
    ("check-comment", "check", "total <= limit_amount --", "comments are not allowed"),
    ("check-semicolon", "check", "1; DROP TABLE lines", "';' is not allowed"),
    ("check-unclosed", "check", "(total > 0", "1 unclosed '('"),
    ("index-injection", "index", "email), (customer_id", "unbalanced ')'"),
    ("derive-wall-clock", "derive", "UPDATE orders SET status = date('now')", "'now' reads the wall clock"),
]

_LOCATIONS = {
    "result": "tools[2].result.query",
    "effect": "tools[2].effects[0]",
    "fail_if": "tools[2].preconditions[0].fail_if",
    "check": "tables[1].checks[1].expression",
    "index": "tables[0].indexes[0]",
    "derive": "tables[1].derive[0]",
}


def _spec_with(slot: str, sql: str) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(TINY_SPEC.read_text())
    done = {"query": "SELECT 1 AS done", "shape": "value"}
    if slot == "result":
        spec["tools"].append({"name": "rogue", "kind": "read", "description": "x", "result": {"query": sql}})
    elif slot == "effect":
        spec["tools"].append({"name": "rogue", "kind": "write", "description": "x", "effects": [sql], "result": done})
    elif slot == "fail_if":
        rogue = {"name": "rogue", "kind": "read", "description": "x", "preconditions": [{"fail_if": sql, "error": "no"}]}
        spec["tools"].append({**rogue, "result": done})
    elif slot == "check":
        spec["tables"][1]["checks"].append({"name": "rogue_check", "expression": sql, "message": "x"})
    elif slot == "index":
        spec["tables"][0]["indexes"] = [sql]
    else:
        spec["tables"][1]["derive"] = [sql]
    return spec


@pytest.mark.parametrize(("slot", "sql", "reason"), [case[1:] for case in VALIDATION_CASES], ids=[c[0] for c in VALIDATION_CASES])
def test_validation_refuses_with_the_reason(tmp_path: Path, slot: str, sql: str, reason: str) -> None:
    assert_rejected(write_spec(tmp_path, _spec_with(slot, sql), folder="tiny"), _LOCATIONS[slot], reason)


# Specs built without validation (a program may do that): the engine itself refuses or bounds each
# statement at run time. (case id, tool parameters, the arguments, the SQL, the failure reason, its message)
LINES = [{"line_id": i, "order_id": 1, "amount": 0.0, "added_at": "2025-01-01T09:00:00"} for i in range(1, 201)]
_TEXT = {"properties": {"value": {"type": "string"}}, "required": ["value"]}
_NUMBER = {"properties": {"value": {"type": "integer"}}, "required": ["value"]}
RUN_TIME_CASES: list[tuple[str, dict[str, Any], dict[str, Any], str, str, str]] = [
    ("recursive-cte", {}, {}, RECURSIVE, "refused", f"the statement {BUDGET} {STATEMENT_STEPS:,} SQLite steps"),
    ("recursive-cte-named-like-a-table", {}, {}, RECURSIVE_AS_TABLE, "refused", BUDGET),
    ("four-way-cross-join", {}, {}, "SELECT count(*) AS n FROM lines a, lines b, lines c, lines d", "refused", BUDGET),
    ("now-from-the-model", _TEXT, {"value": "now"}, "SELECT date(:value) AS d", "refused", CLOCK),
    ("localtime-from-the-model", _TEXT, {"value": "LocalTime"}, "SELECT date(:today, :value) AS d", "refused", CLOCK),
    ("now-built-at-run-time", {}, {}, "SELECT date('n' || 'ow') AS d", "refused", CLOCK),
    ("date-no-argument", {}, {}, "SELECT date() AS d", "refused", "date() without a time value"),
    ("current-date", {}, {}, "SELECT CURRENT_DATE AS d", "refused", "function current_date() is not allowed"),
    (
        "printf-width-from-the-model",
        _NUMBER,
        {"value": 900_000_000},
        "SELECT printf('%.*c', :value, 'x') AS d",
        "refused",
        "printf()",
    ),
    ("zeroblob", {}, {}, "SELECT length(zeroblob(400000000)) AS d", "database", "string or blob too big"),
    (
        "repeated-concatenation",
        {},
        {},
        "WITH RECURSIVE r(s) AS (SELECT 'x' UNION ALL SELECT s || s FROM r) SELECT max(length(s)) AS n FROM r",
        "database",
        "string or blob too big",
    ),
    ("drop-table-read", {}, {}, "DROP TABLE lines", "refused", "DROP TABLE statements are not allowed"),
    (
        "create-trigger",
        {},
        {},
        "CREATE TRIGGER t AFTER INSERT ON lines BEGIN DELETE FROM lines; END",
        "refused",
        "CREATE TRIGGER statements are not allowed",
    ),
    ("analyze", {}, {}, "ANALYZE", "refused", "ANALYZE statements are not allowed"),
]


@pytest.mark.parametrize(
    ("parameters", "arguments", "sql", "reason", "message"),
    [case[1:] for case in RUN_TIME_CASES],
    ids=[c[0] for c in RUN_TIME_CASES],
)
def test_run_time_refuses_or_bounds_with_the_reason(
    tiny_spec: DomainSpec, parameters: dict[str, Any], arguments: dict[str, Any], sql: str, reason: str, message: str
) -> None:
    rogue = Tool.model_validate(
        {
            "name": "rogue",
            "kind": "read",
            "description": "x",
            "parameters": parameters or {"properties": {}},
            "result": {"query": sql},
        }
    )
    database = DomainDatabase.build(
        tiny_spec.model_copy(update={"tools": [*tiny_spec.tools, rogue]}), {**TINY_ROWS, "lines": LINES}
    )
    with database.fork() as env:
        observation = env.call("rogue", arguments)
        assert (observation.reason, message in (observation.error or "")) == (reason, True), observation
        # The refusal is not left behind for the next call to report.
        assert env.call("get_order", {"order_id": 99}).error == "Order 99 not found."
        assert env.call("get_order", {"order_id": 1}).ok
    assert CALL_STEPS >= STATEMENT_STEPS


def test_a_runaway_derive_rule_is_stopped_when_populating(tiny_spec: DomainSpec) -> None:
    """Validation compiles rules without running them; populating runs them under a budget."""
    runaway = f"UPDATE orders SET total = ({RECURSIVE})"
    tables = [table.model_copy(update={"derive": [runaway]}) if table.name == "orders" else table for table in tiny_spec.tables]
    spec = tiny_spec.model_copy(update={"tables": tables})
    rows = {"customers": TINY_ROWS["customers"], "orders": TINY_ROWS["orders"], "lines": []}
    with pytest.raises(PopulateError, match=r"orders\.derive\[0\]: refused: the statement ran over its budget of"):
        apply_rules(spec, rows)


@pytest.mark.parametrize(
    ("sql", "named"), [("ANALYZE", "ANALYZE"), ("DROP TABLE lines", "DROP TABLE"), ("CREATE VIEW v AS SELECT 1", "CREATE VIEW")]
)
def test_a_refused_statement_is_named_by_its_kind_only(tmp_path: Path, sql: str, named: str) -> None:
    with pytest.raises(SpecError) as raised:
        load_spec(write_spec(tmp_path, _spec_with("effect", sql), folder="tiny"))
    reasons = [issue.reason for issue in raised.value.issues if issue.location == _LOCATIONS["effect"]]
    assert reasons == [f"{named} statements are not allowed"]
