"""The canonical state hash and the database file: order- and history-independent, type-stable."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest

from toolscale.engine.database import DatabaseError, DomainDatabase
from toolscale.spec.models import DomainSpec

from .conftest import TINY_ROWS


def _fixture_rows(bank_spec: DomainSpec) -> dict[str, list[dict[str, Any]]]:
    import yaml

    from toolscale.domain.loader import domain_dir
    from toolscale.examples import FIXTURE_FILE

    rows: dict[str, list[dict[str, Any]]] = yaml.safe_load((domain_dir("bank") / FIXTURE_FILE).read_text())
    return rows


def test_hash_ignores_row_order(bank_spec: DomainSpec, bank_db: DomainDatabase) -> None:
    rows = _fixture_rows(bank_spec)
    shuffled = {table: random.Random(7).sample(table_rows, len(table_rows)) for table, table_rows in rows.items()}
    reordered = DomainDatabase.build(bank_spec, dict(reversed(list(shuffled.items()))))
    assert reordered.state_hash == bank_db.state_hash
    assert reordered.image != bank_db.image  # same state, different physical layout


def test_hash_ignores_insertion_history(bank_spec: DomainSpec, bank_db: DomainDatabase) -> None:
    rows = _fixture_rows(bank_spec)
    without_payee = {
        table: [row for row in table_rows if row.get("payee_id") != "PAY-0000001"] for table, table_rows in rows.items()
    }
    smaller = DomainDatabase.build(bank_spec, without_payee)
    assert smaller.state_hash != bank_db.state_hash
    with bank_db.fork() as env:
        assert env.call("remove_payee", {"client_id": "CL-000001", "payee_id": "PAY-0000001"}).ok
        assert env.state_hash() == smaller.state_hash


def test_hash_is_type_stable(tiny_spec: DomainSpec) -> None:
    as_int = DomainDatabase.build(tiny_spec, TINY_ROWS)
    orders = [dict(TINY_ROWS["orders"][0], total=0, limit_amount=100)]  # ints into REAL columns
    as_float = DomainDatabase.build(tiny_spec, {**TINY_ROWS, "orders": orders})
    assert as_int.state_hash == as_float.state_hash
    changed = [dict(TINY_ROWS["orders"][0], total=0.5)]
    assert DomainDatabase.build(tiny_spec, {**TINY_ROWS, "orders": changed}).state_hash != as_int.state_hash


def test_incremental_hash_matches_a_full_rescan_after_many_writes(bank_db: DomainDatabase) -> None:
    rng = random.Random(0)
    calls = [
        (
            "transfer_between_own_accounts",
            {"client_id": "CL-000001", "from_account_id": "ACC-0000002", "to_account_id": "ACC-0000001"},
        ),
        ("pay_payee", {"client_id": "CL-000001", "account_id": "ACC-0000001", "payee_id": "PAY-0000001"}),
        ("add_payee", {"client_id": "CL-000002", "name": "Shop"}),
        ("remove_payee", {"client_id": "CL-000002", "payee_id": "PAY-0000003"}),
    ]
    # Several episodes in turn: each starts from the database's rows, whose digests the earlier ones kept.
    for _episode in range(3):
        with bank_db.fork() as env:
            for _ in range(30):
                name, arguments = rng.choice(calls)
                extra: dict[str, Any] = {"amount": round(rng.uniform(1, 900), 2)} if "account_id" in str(arguments) else {}
                if name == "add_payee":
                    extra = {"account_number": f"{rng.randrange(10**10):010d}"}
                env.call(name, arguments | extra)
                assert env.state_hash() == env.rescanned_state_hash()


def test_build_is_deterministic(bank_spec: DomainSpec, bank_db: DomainDatabase) -> None:
    assert DomainDatabase.build(bank_spec, _fixture_rows(bank_spec)).image == bank_db.image


def test_save_and_load_round_trip(tmp_path: Path, bank_spec: DomainSpec, bank_db: DomainDatabase) -> None:
    path = tmp_path / "nested" / "bank.sqlite"
    bank_db.save(path)
    assert path.read_bytes() == bank_db.image
    assert not list(path.parent.glob("*.tmp"))
    loaded = DomainDatabase.load(bank_spec, path)
    assert loaded.state_hash == bank_db.state_hash
    with loaded.fork() as env:
        assert env.call("find_client_by_email", {"email": "tom.l@example.net"}).output == "CL-000002"


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read database file"), (b"hello", "not a SQLite database file")],
)
def test_load_rejects_missing_or_foreign_files(
    tmp_path: Path, bank_spec: DomainSpec, content: bytes | None, message: str
) -> None:
    path = tmp_path / "bank.sqlite"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DatabaseError, match=message) as raised:
        DomainDatabase.load(bank_spec, path)
    assert str(path) in str(raised.value)


def test_load_rejects_a_database_of_another_spec(tmp_path: Path, bank_spec: DomainSpec, tiny_db: DomainDatabase) -> None:
    path = tmp_path / "tiny.sqlite"
    tiny_db.save(path)
    with pytest.raises(DatabaseError, match="another version of domain 'bank'"):
        DomainDatabase.load(bank_spec, path)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ({"wallets": []}, "unknown table(s) ['wallets']"),
        ({"customers": [{"customer_id": "C1", "email": "a@b.c", "age": 3}]}, "unknown column(s) ['age']"),
        (
            {"customers": [{"customer_id": "C1", "email": "a@b.c"}, {"customer_id": "C1", "email": "x@b.c"}]},
            "UNIQUE constraint failed",
        ),
        ({"orders": [{"order_id": 1, "customer_id": "nobody", "status": "open", "total": 0, "limit_amount": 1}]}, "FOREIGN KEY"),
    ],
)
def test_build_rejects_bad_rows_with_the_reason(tiny_spec: DomainSpec, rows: dict[str, Any], message: str) -> None:
    with pytest.raises(DatabaseError, match=re.escape(message)):
        DomainDatabase.build(tiny_spec, rows)


DOCUMENTS = DomainSpec.model_validate(
    {
        "name": "documents",
        "description": "Documents with a JSON body.",
        "clock": "2025-01-01T00:00:00",
        "caller": {"table": "docs", "known": ["doc_id"]},
        "tables": [
            {
                "name": "docs",
                "columns": [{"name": "doc_id", "type": "text", "primary_key": True}, {"name": "body", "type": "json"}],
            }
        ],
        "tools": [
            {
                "name": "set_body",
                "kind": "write",
                "description": "Replace a document's body.",
                "parameters": {
                    "properties": {"doc_id": {"type": "string"}, "body": {"type": "object"}},
                    "required": ["doc_id", "body"],
                },
                # SQLite's json() writes documents without spaces; the build wrote them with Python's spacing.
                "effects": ["UPDATE docs SET body = json(:body) WHERE doc_id = :doc_id"],
                "result": {"query": "SELECT body FROM docs WHERE doc_id = :doc_id", "shape": "value"},
            }
        ],
    }
)


def test_json_columns_hash_as_documents_whatever_wrote_them() -> None:
    database = DomainDatabase.build(DOCUMENTS, {"docs": [{"doc_id": "d1", "body": {"b": [1, 2.5], "a": "x"}}]})
    with database.fork() as env:
        assert env.call("set_body", {"doc_id": "d1", "body": {"a": "x", "b": [1, 2.5]}}).output == {"a": "x", "b": [1, 2.5]}
        assert env.state_hash() == database.state_hash == env.rescanned_state_hash()
        assert env.state_diff() == {}
        assert env.call("set_body", {"doc_id": "d1", "body": {"a": "x", "b": [1, 2]}}).ok
        assert env.state_hash() != database.state_hash
        assert env.state_diff()["docs"]["d1"]["after"] == {"doc_id": "d1", "body": {"a": "x", "b": [1, 2]}}


def test_declared_indexes_serve_case_insensitive_lookups(bank_db: DomainDatabase) -> None:
    with bank_db.fork() as env:
        plan = env.query("EXPLAIN QUERY PLAN SELECT client_id FROM clients WHERE lower(email) = lower(?)", ("x",))
    assert "USING INDEX ix_clients_1" in plan[0][-1]
