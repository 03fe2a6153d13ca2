"""The populate stage: every declared constraint holds (checked by SQL), output is deterministic,
sizes scale as documented, and bad generators are reported with file, field path and reason."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tests.spec_helpers import assert_rejected
from toolscale.cli import app
from toolscale.domain.loader import domain_dir, domain_names, load_domain, load_spec
from toolscale.engine.database import DomainDatabase
from toolscale.populate.stage import default_size, populate, table_rows
from toolscale.populate.values import PopulateError
from toolscale.spec.errors import SpecError
from toolscale.spec.generators import ReferenceGenerator
from toolscale.spec.models import DomainSpec, is_populated

POPULATED = [name for name in domain_names() if is_populated(load_domain(name))]
SIZE = 60


@pytest.fixture(scope="module", params=POPULATED)
def populated(request: pytest.FixtureRequest) -> Iterator[tuple[DomainDatabase, sqlite3.Connection]]:
    database = populate(load_domain(request.param), SIZE, seed=3)
    connection = sqlite3.connect(":memory:")
    connection.deserialize(database.image)
    yield database, connection
    connection.close()


def _count(connection: sqlite3.Connection, sql: str) -> int:
    (value,) = connection.execute(sql).fetchone()
    assert isinstance(value, int)
    return value


def test_references_resolve_and_cardinalities_hold(populated: tuple[DomainDatabase, sqlite3.Connection]) -> None:
    database, connection = populated
    for table in database.spec.tables:
        for column in table.columns:
            if column.references is None:
                continue
            parent, key = column.references.split(".")
            dangling = _count(
                connection,
                f"SELECT count(*) FROM {table.name} c WHERE c.{column.name} IS NOT NULL "
                f"AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.{key} = c.{column.name})",
            )
            assert dangling == 0, f"{table.name}.{column.name}: {dangling} dangling references"
            generator = column.generator
            if isinstance(generator, ReferenceGenerator) and not generator.pick:
                # Rows a tool inserted would not count here: the database is fresh.
                low, high = connection.execute(
                    f"SELECT min(n), max(n) FROM (SELECT count(c.{column.name}) AS n FROM {parent} p "
                    f"LEFT JOIN {table.name} c ON c.{column.name} = p.{key} GROUP BY p.{key})"
                ).fetchone()
                assert generator.min <= low <= high <= generator.max, f"{table.name}.{column.name}: {low}..{high} children"


def test_unique_not_null_enum_and_checks_hold(populated: tuple[DomainDatabase, sqlite3.Connection]) -> None:
    database, connection = populated
    for table in database.spec.tables:
        for column in table.columns:
            if column.unique or column.primary_key:
                distinct = _count(connection, f"SELECT count(DISTINCT {column.name}) FROM {table.name}")
                assert distinct == _count(connection, f"SELECT count(*) FROM {table.name}"), f"{table.name}.{column.name}"
            if not column.nullable:
                assert _count(connection, f"SELECT count(*) FROM {table.name} WHERE {column.name} IS NULL") == 0
            if column.enum is not None:
                allowed = ", ".join("?" for _ in column.enum)
                outside = connection.execute(
                    f"SELECT count(*) FROM {table.name} WHERE {column.name} NOT IN ({allowed})", column.enum
                ).fetchone()[0]
                assert outside == 0, f"{table.name}.{column.name}: values outside its enum"
        for check in table.checks:
            broken = _count(connection, f"SELECT count(*) FROM {table.name} WHERE NOT ({check.expression})")
            assert broken == 0, f"{table.name}: check {check.name} fails on {broken} rows"


def _snapshot(connection: sqlite3.Connection, tables: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    return {table: connection.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall() for table in tables}


def test_database_is_a_fixed_point_of_its_consistency_rules(populated: tuple[DomainDatabase, sqlite3.Connection]) -> None:
    database, connection = populated
    names = [table.name for table in database.spec.tables]
    before = _snapshot(connection, names)
    clock = {"now": database.spec.clock.isoformat(), "today": database.spec.clock.date().isoformat()}
    connection.execute("SAVEPOINT rules")
    for table in database.spec.tables:
        for statement in table.derive:
            connection.execute(statement, clock)
    after = _snapshot(connection, names)
    connection.execute("ROLLBACK TO rules")
    assert after == before


@pytest.mark.parametrize("domain", POPULATED)
def test_populate_is_deterministic(domain: str) -> None:
    spec = load_domain(domain)
    first = populate(spec, 25, seed=7)
    assert populate(spec, 25, seed=7).image == first.image
    assert populate(spec, 25, seed=8).image != first.image


def test_size_counts_caller_rows_and_scales_other_tables() -> None:
    spec = load_domain("bank")
    unit = default_size(spec)
    assert table_rows(spec, spec.table("clients"), 250) == 250  # type: ignore[arg-type]
    assert table_rows(spec, spec.table("accounts"), 250) is None  # type: ignore[arg-type]
    products = load_domain("ecommerce").table("products")
    assert products is not None
    ecommerce = load_domain("ecommerce")
    assert table_rows(ecommerce, products, default_size(ecommerce)) == products.rows
    assert table_rows(ecommerce, products, default_size(ecommerce) // 2) == (products.rows or 0) // 2
    assert table_rows(ecommerce, products, 1) == 1, "a declared table keeps at least one row"
    assert unit == 1000


def test_generated_ids_continue_after_populated_ones() -> None:
    database = populate(load_domain("bank"), 20, seed=1)
    with database.fork() as environment:
        client, email = environment.query("SELECT client_id, email FROM clients WHERE status = 'active' LIMIT 1")[0]
        (payees,) = environment.query("SELECT count(*) FROM payees")[0]
        observation = environment.call("add_payee", {"client_id": client, "name": "Landlord", "account_number": "1234567890"})
    assert observation.ok, observation.error
    assert observation.output["payee_id"] == f"PAY-{payees + 1:07d}"
    assert email


def _write_spec(tmp_path: Path, edit: Any) -> Path:
    data = yaml.safe_load((domain_dir("bank") / "domain.yaml").read_text(encoding="utf-8"))
    edit(data)
    folder = tmp_path / "bank"
    folder.mkdir()
    path = folder / "domain.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _column(data: dict[str, Any], table: str, column: str) -> dict[str, Any]:
    found = next(t for t in data["tables"] if t["name"] == table)
    result: dict[str, Any] = next(c for c in found["columns"] if c["name"] == column)
    return result


@pytest.mark.parametrize(
    ("edit", "location", "reason"),
    [
        (
            lambda d: _column(d, "clients", "city")["generator"].update(provider="no_such_provider"),
            "tables[0].columns[7].generator.provider",
            "no provider",
        ),
        (
            lambda d: _column(d, "clients", "city")["generator"].update(locale="xx_XX"),
            "tables[0].columns[7].generator.provider",
            "locale",
        ),
        (
            lambda d: _column(d, "clients", "status")["generator"].update(values=["active", "gone"]),
            "tables[0].columns[9].generator.values[1]",
            "enum",
        ),
        (
            lambda d: _column(d, "accounts", "balance").update(generator={"kind": "date", "min_days": 0, "max_days": 1}),
            "tables[1].columns[4].generator.kind",
            "date",
        ),
        (lambda d: _column(d, "clients", "city").pop("generator"), "tables[0].columns[7]", "no generator"),
        (lambda d: _column(d, "accounts", "client_id")["generator"].update(pick=True), "tables[1]", "driving reference"),
        (
            lambda d: _column(d, "clients", "client_id")["generator"].update(pattern="CL-{n}"),
            "tables[0].columns[0].generator.pattern",
            "{seq}",
        ),
        (
            lambda d: _column(d, "cards", "daily_limit").update(generator={"kind": "integer", "min": 9, "max": 1}),
            "tables[2].columns[4].generator",
            "exceeds",
        ),
        (lambda d: d["tables"][1].update(derive=["DELETE FROM accounts"]), "tables[1].derive[0]", "UPDATE"),
        (lambda d: d["tables"][1].update(derive=["UPDATE accounts SET balance = :x"]), "tables[1].derive[0]", ":now"),
    ],
)
def test_bad_population_specs_name_file_field_and_reason(tmp_path: Path, edit: Any, location: str, reason: str) -> None:
    path = _write_spec(tmp_path, edit)
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    matches = [issue for issue in raised.value.issues if issue.location.startswith(location) and reason in issue.reason]
    assert matches, f"wanted {location}: ...{reason}..., got {[str(issue) for issue in raised.value.issues]}"
    assert all(issue.file == path for issue in raised.value.issues)


def test_impossible_rows_are_a_populate_error_naming_the_column(tmp_path: Path) -> None:
    unique_choice = _write_spec(
        tmp_path, lambda d: _column(d, "clients", "city").update(unique=True, generator={"kind": "choice", "values": ["A", "B"]})
    )
    with pytest.raises(PopulateError, match=r"clients\.city.*distinct"):
        populate(load_spec(unique_choice), 10, seed=0)


def test_a_broken_consistency_rule_is_a_populate_error_naming_the_check(tmp_path: Path) -> None:
    path = _write_spec(tmp_path, lambda d: d["tables"][1].update(derive=["UPDATE accounts SET balance = -overdraft_limit - 1"]))
    with pytest.raises(PopulateError, match=r"accounts\.derive\[0\].*balance_within_overdraft.*Insufficient funds"):
        populate(load_spec(path), 10, seed=0)


def _breaking_rows(spec: DomainSpec, database: DomainDatabase) -> dict[str, list[tuple[Any, ...]]]:
    connection = sqlite3.connect(":memory:")
    connection.deserialize(database.image)
    clock = {"now": spec.clock.isoformat(), "today": spec.clock.date().isoformat()}
    try:
        return {invariant.name: connection.execute(invariant.query, clock).fetchall() for invariant in spec.invariants}
    finally:
        connection.close()


@pytest.mark.parametrize("domain", POPULATED)
def test_populated_data_keeps_the_domains_invariants_at_several_sizes(domain: str) -> None:
    spec = load_domain(domain)
    assert spec.invariants, f"{domain} declares no invariants"
    for size, seed in [(25, 4), (SIZE, 3), (default_size(spec), 0)]:
        broken = {name: rows for name, rows in _breaking_rows(spec, populate(spec, size, seed)).items() if rows}
        assert not broken, f"{domain} at size {size}, seed {seed}: {broken}"


def test_a_broken_invariant_is_a_populate_error_naming_the_rule_and_a_row(tmp_path: Path) -> None:
    rule = {
        "name": "savings_only",
        "description": "Every account is a savings account.",
        "query": "SELECT account_id, kind FROM accounts WHERE kind <> 'savings'",
    }
    path = _write_spec(tmp_path, lambda d: d.update(invariants=[rule]))
    expected = r"invariants\[0\] \(savings_only\).*Every account is a savings account.*'kind': 'checking'"
    with pytest.raises(PopulateError, match=expected):
        populate(load_spec(path), 200, seed=0)


def test_cli_writes_the_same_bytes_twice(tmp_path: Path) -> None:
    runner = CliRunner()
    outputs = [tmp_path / "a.sqlite", tmp_path / "b.sqlite"]
    for out in outputs:
        result = runner.invoke(
            app, ["populate", "--domain", "bank", "--size", "30", "--seed", "5", "--no-progress", "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert "clients 30" in result.output
    assert outputs[0].read_bytes() == outputs[1].read_bytes()
    assert DomainDatabase.load(load_domain("bank"), outputs[0]).state_hash == populate(load_domain("bank"), 30, seed=5).state_hash


def test_cli_reports_an_unknown_domain() -> None:
    result = CliRunner().invoke(app, ["populate", "--domain", "nope", "--no-progress"])
    assert result.exit_code == 1
    assert "nope" in result.output


def _with_catalogue(data: dict[str, Any]) -> None:
    """The bank with a fixed `account_kinds` catalogue (tables[1]) that accounts.kind references by weighted choice."""
    data["tables"].insert(
        1,
        {
            "name": "account_kinds",
            "columns": [
                {"name": "kind", "type": "text", "primary_key": True},
                {"name": "interest_rate", "type": "real"},
                {"name": "family", "type": "text", "enum": ["deposit", "credit"]},
                {"name": "offered_since", "type": "date", "nullable": True},
                {"name": "owner_id", "type": "text", "nullable": True, "references": "clients.client_id"},
            ],
            "data": [
                {"kind": "checking", "interest_rate": 0, "family": "deposit", "offered_since": "2001-04-30"},
                {"kind": "savings", "interest_rate": 2.5, "family": "deposit"},
            ],
        },
    )
    _column(data, "accounts", "kind").pop("enum")
    _column(data, "accounts", "kind")["references"] = "account_kinds.kind"


def _catalogue_row(data: dict[str, Any], index: int) -> dict[str, Any]:
    row: dict[str, Any] = data["tables"][1]["data"][index]
    return row


def test_catalogue_rows_are_inserted_as_given_at_every_size(tmp_path: Path) -> None:
    spec = load_spec(_write_spec(tmp_path, _with_catalogue))
    kinds = spec.table("account_kinds")
    assert kinds is not None
    assert table_rows(spec, kinds, 1) == table_rows(spec, kinds, 5000) == 2
    for size in (1, 40):
        database = populate(spec, size, seed=2)
        with database.fork() as environment:
            assert environment.query("SELECT kind, interest_rate, family, offered_since, owner_id FROM account_kinds") == [
                ("checking", 0.0, "deposit", "2001-04-30", None),
                ("savings", 2.5, "deposit", None, None),
            ]
        assert populate(spec, size, seed=2).image == database.image
    # accounts.kind still draws from its weighted choice, now of the catalogue's keys.
    with populate(spec, 40, seed=2).fork() as environment:
        assert sorted(environment.query("SELECT DISTINCT kind FROM accounts")) == [("checking",), ("savings",)]


def _set_owner(data: dict[str, Any]) -> None:
    _with_catalogue(data)
    _catalogue_row(data, 1)["owner_id"] = "CL-000030"


def test_a_catalogue_reference_to_generated_rows_resolves_at_populate_time(tmp_path: Path) -> None:
    spec = load_spec(_write_spec(tmp_path, _set_owner))
    with populate(spec, 30, seed=0).fork() as environment:
        assert environment.query("SELECT owner_id FROM account_kinds WHERE kind = 'savings'") == [("CL-000030",)]
    # At 29 clients there is no CL-000030: the error names the row and column, not a bare foreign key failure.
    with pytest.raises(
        PopulateError, match=r"account_kinds\.data\[1\]\.owner_id: 'CL-000030' is not a generated clients\.client_id"
    ):
        populate(spec, 29, seed=0)


def _catalogue_edit(change: Any) -> Any:
    def edit(data: dict[str, Any]) -> None:
        _with_catalogue(data)
        change(data)

    return edit


@pytest.mark.parametrize(
    ("change", "location", "reason"),
    [
        (lambda d: _catalogue_row(d, 1).update(rate=1.0), "tables[1].data[1].rate", "has no column 'rate'"),
        (lambda d: _catalogue_row(d, 0).update(interest_rate="high"), "tables[1].data[0].interest_rate", "column type 'real'"),
        (lambda d: _catalogue_row(d, 1).update(family="loan"), "tables[1].data[1].family", "enum"),
        (lambda d: _catalogue_row(d, 1).update(kind="checking"), "tables[1].data[1].kind", "repeats data[0]'s"),
        (lambda d: _catalogue_row(d, 1).pop("interest_rate"), "tables[1].data[1]", "'interest_rate' is not nullable"),
        (lambda d: _catalogue_row(d, 1).update(family=None), "tables[1].data[1].family", "not nullable"),
        (lambda d: _catalogue_row(d, 0).update(offered_since="2001-4-30"), "tables[1].data[0].offered_since", "ISO date"),
        (lambda d: d["tables"][1].update(rows=2), "tables[1].rows", "cannot also declare `rows`"),
        (
            lambda d: d["tables"][1]["columns"][1].update(generator={"kind": "real", "min": 0, "max": 3}),
            "tables[1].columns[1].generator",
            "never run",
        ),
        (
            lambda d: _column(d, "accounts", "kind")["generator"].update(values=["checking", "brokerage"]),
            "tables[2].columns[2].generator.values[1]",
            "not a account_kinds.kind",
        ),
        (
            lambda d: _column(d, "accounts", "kind").update(generator={"kind": "integer", "min": 0, "max": 1}),
            "tables[2].columns[2].generator.kind",
            "reference generator",
        ),
        (
            lambda d: d["tables"].insert(3, d["tables"].pop(1)),
            "tables[1].columns[2].references",
            "declared before",
        ),
    ],
)
def test_bad_catalogue_rows_name_file_row_column_and_reason(tmp_path: Path, change: Any, location: str, reason: str) -> None:
    assert_rejected(_write_spec(tmp_path, _catalogue_edit(change)), location, reason)


def test_populated_database_remembers_its_size_and_seed(tmp_path: Path) -> None:
    from toolscale.engine.database import DomainDatabase

    path = tmp_path / "bank.sqlite"
    populate(load_domain("bank"), 40, seed=7).save(path)
    assert DomainDatabase.load(load_domain("bank"), path).provenance == {"size": "40", "seed": "7"}
