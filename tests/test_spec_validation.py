"""Spec validation: the good spec passes; each malformed spec fails naming its file, location and reason."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from toolscale.cli import app
from toolscale.domain.loader import SPEC_FILE, domain_dir, domain_names, load_spec
from toolscale.schemas import SCHEMAS_DIR, schema_texts
from toolscale.spec.errors import SpecError

from .conftest import TINY_SPEC
from .spec_helpers import assert_rejected, write_spec

Spec = dict[str, Any]


def _base() -> Spec:
    return yaml.safe_load(TINY_SPEC.read_text())


def _tool(spec: Spec, name: str) -> Spec:
    return next(tool for tool in spec["tools"] if tool["name"] == name)


def _set(path: str, value: Any) -> Callable[[Spec], None]:
    """A mutation that sets a dotted path such as 'tools.1.effects.0'."""

    def mutate(spec: Spec) -> None:
        *parents, last = path.split(".")
        node: Any = spec
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return mutate


def _append(path: str, value: Any) -> Callable[[Spec], None]:
    def mutate(spec: Spec) -> None:
        node: Any = spec
        for part in path.split("."):
            node = node[int(part)] if part.isdigit() else node[part]
        node.append(copy.deepcopy(value))

    return mutate


def _drop(path: str) -> Callable[[Spec], None]:
    def mutate(spec: Spec) -> None:
        *parents, last = path.split(".")
        node: Any = spec
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[int(last) if last.isdigit() else last]

    return mutate


SELECT_ORDER = "SELECT 1 FROM orders WHERE order_id = :order_id"


def _invariant(query: str) -> dict[str, str]:
    return {"name": "no_negative_totals", "description": "An order's total is never negative.", "query": query}


# (case id, mutation, expected location, expected reason fragment)
MALFORMED: list[tuple[str, Callable[[Spec], None], str, str]] = [
    ("unknown-top-level-key", _set("colour", "blue"), "colour", "Extra inputs are not permitted"),
    ("missing-tools", _drop("tools"), "tools", "Field required"),
    ("bad-column-type", _set("tables.1.columns.3.type", "money"), "tables[1].columns[3].type", "Input should be 'text'"),
    ("bad-table-name", _set("tables.2.name", "Line Items"), "tables[2].name", "should match pattern"),
    ("bad-tool-kind", _set("tools.0.kind", "readwrite"), "tools[0].kind", "Input should be 'read' or 'write'"),
    (
        "array-without-items",
        _set("tools.0.parameters.properties.order_id", {"type": "array"}),
        "tools[0].parameters.properties.order_id",
        "'items' is required",
    ),
    (
        "two-primary-keys",
        _set("tables.0.columns.1.primary_key", True),
        "tables[0].columns",
        "exactly one primary key column, has 2",
    ),
    (
        "duplicate-column",
        _append("tables.0.columns", {"name": "email", "type": "text"}),
        "tables[0].columns",
        "column 'email' is declared more than once",
    ),
    (
        "duplicate-tool",
        _append("tools", {"name": "get_order", "kind": "read", "description": "x", "result": {"query": "SELECT 1"}}),
        "tools",
        "tool 'get_order' is declared more than once",
    ),
    (
        "reference-unknown-table",
        _set("tables.1.columns.1.references", "clients.customer_id"),
        "tables[1].columns[1].references",
        "references unknown table 'clients'",
    ),
    (
        "reference-unknown-column",
        _set("tables.1.columns.1.references", "customers.id"),
        "tables[1].columns[1].references",
        "unknown column 'id' of table 'customers'",
    ),
    (
        "reference-type-mismatch",
        _set("tables.2.columns.1.references", "customers.customer_id"),
        "tables[2].columns[1].references",
        "type 'integer' differs",
    ),
    (
        "enum-value-wrong-type",
        _set("tables.1.columns.2.enum", ["open", 3]),
        "tables[1].columns[2].enum[1]",
        "does not fit column type 'text'",
    ),
    ("caller-unknown-table", _set("caller.table", "users"), "caller.table", "unknown table 'users'"),
    ("caller-unknown-column", _set("caller.known", ["email", "shoe_size"]), "caller.known[1]", "has no column 'shoe_size'"),
    (
        "check-unknown-column",
        _set("tables.1.checks.0.expression", "total <= ceiling"),
        "tables[1].checks[0].expression",
        "no such column: ceiling",
    ),
    (
        "sql-unknown-column",
        _set("tools.0.result.query", "SELECT order_id, colour FROM orders WHERE order_id = :order_id"),
        "tools[0].result.query",
        "no such column: colour",
    ),
    (
        "sql-unknown-table",
        _set("tools.0.preconditions.0.query", "SELECT 1 FROM baskets WHERE id = :order_id"),
        "tools[0].preconditions[0].query",
        "no such table: baskets",
    ),
    (
        "sql-syntax-error",
        _set("tools.1.effects.1", "UPDATE orders SET total = WHERE order_id = :order_id"),
        "tools[1].effects[1]",
        "syntax error",
    ),
    (
        "sql-two-statements",
        _set("tools.0.result.query", "SELECT 1; SELECT 2"),
        "tools[0].result.query",
        "one statement at a time",
    ),
    ("ddl-in-effect", _set("tools.1.effects.1", "DROP TABLE lines"), "tools[1].effects[1]", "not allowed"),
    (
        "pragma-in-query",
        _set("tools.0.preconditions.0.query", "PRAGMA table_info(orders)"),
        "tools[0].preconditions[0].query",
        "not allowed",
    ),
    ("attach-in-effect", _set("tools.1.effects.1", "ATTACH DATABASE '/tmp/x.db' AS other"), "tools[1].effects[1]", "not allowed"),
    (
        "touches-sqlite-master",
        _set("tools.0.result.query", "SELECT name FROM sqlite_master WHERE :order_id"),
        "tools[0].result.query",
        "not the domain's: ['sqlite_master']",
    ),
    (
        "undeclared-parameter",
        _set("tools.0.result.query", "SELECT total FROM orders WHERE order_id = :id OR :order_id"),
        "tools[0].result.query",
        "uses parameter :id, which is not declared",
    ),
    (
        "unused-parameter",
        _set("tools.0.parameters.properties.verbose", {"type": "boolean"}),
        "tools[0].parameters.properties.verbose",
        "declared but no SQL statement uses it",
    ),
    (
        "required-not-declared",
        _set("tools.0.parameters.required", ["order_id", "customer"]),
        "tools[0].parameters.required[1]",
        "'customer' is not declared",
    ),
    ("write-without-effects", _set("tools.1.effects", []), "tools[1].effects", "needs at least one effect"),
    (
        "read-with-effects",
        _set("tools.0.effects", ["DELETE FROM lines WHERE order_id = :order_id"]),
        "tools[0].effects",
        "must not have effects",
    ),
    (
        "effect-that-only-reads",
        _set("tools.1.effects.1", SELECT_ORDER),
        "tools[1].effects[1]",
        "an effect must be an INSERT, UPDATE or DELETE",
    ),
    (
        "precondition-that-writes",
        _set("tools.1.preconditions.0.query", "DELETE FROM lines WHERE order_id = :order_id"),
        "tools[1].preconditions[0].query",
        "must only read, but it writes ['lines']",
    ),
    (
        "wall-clock",
        _set("tools.1.effects.0", "INSERT INTO lines (order_id, amount, added_at) VALUES (:order_id, :amount, datetime('now'))"),
        "tools[1].effects[0]",
        "wall clock",
    ),
    ("index-unknown-column", _set("tables.0.indexes", ["lower(colour)"]), "tables[0].indexes[0]", "no such column: colour"),
    (
        "index-over-another-table",
        _set("tables.0.indexes", ["(SELECT count(*) FROM orders)"]),
        "tables[0].indexes[0]",
        "over this table's own columns",
    ),
    (
        "space-separated-datetime",
        _set(
            "tools.1.effects.0",
            "INSERT INTO lines (order_id, amount, added_at) VALUES (:order_id, :amount, datetime(:now, '+1 day'))",
        ),
        "tools[1].effects[0]",
        "use strftime('%Y-%m-%dT%H:%M:%S', ...)",
    ),
    (
        "random-function",
        _set("tools.0.result.query", "SELECT random() AS r, :order_id AS o"),
        "tools[0].result.query",
        "function random() is not allowed",
    ),
    (
        "error-placeholder-unknown",
        _set("tools.1.preconditions.0.error", "Order {order} is not open."),
        "tools[1].preconditions[0].error",
        "placeholder {order} is not a parameter",
    ),
    (
        "generated-id-bad-pattern",
        _set("tools.1.generated_ids", {"line_code": {"table": "lines", "pattern": "L-{n}"}}),
        "tools[1].generated_ids.line_code.pattern",
        "must use {seq}",
    ),
    ("missing-result", _drop("tools.0.result"), "tools[0].result", "needs a result query"),
    (
        "invariant-unknown-column",
        _set("invariants", [_invariant("SELECT order_id FROM orders WHERE colour = 'red'")]),
        "invariants[0].query",
        "no such column: colour",
    ),
    (
        "invariant-that-writes",
        _set("invariants", [_invariant("DELETE FROM lines WHERE amount < 0")]),
        "invariants[0].query",
        "must only read, but it writes ['lines']",
    ),
    (
        "invariant-unknown-parameter",
        _set("invariants", [_invariant("SELECT order_id FROM orders WHERE total > :cap")]),
        "invariants[0].query",
        "uses parameter :cap, which is not declared",
    ),
    (
        "invariant-duplicate-name",
        _set("invariants", [_invariant("SELECT 1 FROM orders WHERE total < 0")] * 2),
        "invariants",
        "invariant 'no_negative_totals' is declared more than once",
    ),
    (
        "invariant-without-query",
        _set("invariants", [{"name": "empty", "description": "x"}]),
        "invariants[0].query",
        "Field required",
    ),
    ("unknown-expert-strength", _set("expert_strengths", ["cooking"]), "expert_strengths[0]", "Input should be 'general'"),
    ("folder-name-mismatch", _set("name", "small"), "name", "differs from its folder name 'tiny'"),
]


def test_the_base_spec_and_every_shipped_domain_validate() -> None:
    assert load_spec(TINY_SPEC).name == "tiny"
    for name in domain_names():
        load_spec(Path("domains") / name / "domain.yaml")


@pytest.mark.parametrize(("case", "mutate", "location", "reason"), MALFORMED, ids=[case[0] for case in MALFORMED])
def test_malformed_spec_names_file_location_and_reason(
    tmp_path: Path, case: str, mutate: Callable[[Spec], None], location: str, reason: str
) -> None:
    spec = _base()
    mutate(spec)
    assert_rejected(write_spec(tmp_path, spec, folder="tiny"), location, reason)


def test_cli_validate_exits_nonzero_with_file_location_and_reason(tmp_path: Path) -> None:
    spec = _base()
    _set("tools.1.effects.1", "DROP TABLE lines")(spec)
    bad = write_spec(tmp_path, spec, folder="tiny")
    result = subprocess.run(
        [sys.executable, "-m", "toolscale.cli", "spec", "validate", str(TINY_SPEC), str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert f"{TINY_SPEC}: ok" in result.stdout
    assert f"{bad}: tools[1].effects[1]: " in result.stderr
    assert "1 of 2 spec(s) invalid" in result.stderr


@pytest.mark.parametrize(
    ("content", "location", "reason"),
    [
        (None, "(file)", "cannot read"),
        ("tables: [unclosed", "line 1, column 18", "invalid YAML"),
        ("- just\n- a list\n", "(top level)", "valid dictionary"),
    ],
)
def test_unreadable_or_non_mapping_files(tmp_path: Path, content: str | None, location: str, reason: str) -> None:
    path = tmp_path / "domain.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    (issue,) = raised.value.issues
    assert (issue.file, issue.location) == (path, location)
    assert reason in issue.reason


def test_committed_json_schema_is_up_to_date() -> None:
    for path, text in schema_texts().items():
        assert path.read_text() == text, f"run `make schema` and commit {path.name}"


def test_json_schema_accepts_the_shipped_specs() -> None:
    import jsonschema_rs

    validator = jsonschema_rs.validator_for(json.loads((SCHEMAS_DIR / "domain.schema.json").read_text()))
    for name in domain_names():
        document = json.loads(json.dumps(yaml.safe_load((Path("domains") / name / "domain.yaml").read_text()), default=str))
        assert validator.is_valid(document), name


def test_cli_validate_accepts_domain_folders() -> None:
    result = CliRunner().invoke(app, ["spec", "validate", str(domain_dir("bank")), str(domain_dir("weather") / SPEC_FILE)])
    assert result.exit_code == 0, result.output
    assert f"{domain_dir('bank') / SPEC_FILE}: ok" in result.output
