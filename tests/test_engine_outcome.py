"""Outcome hashes: generated ids named by content, so the order of independent writes does not matter."""

from __future__ import annotations

from toolscale.engine.database import DomainDatabase
from toolscale.engine.outcome import canonical_names, outcome_digest_sums
from toolscale.engine.state import table_digest_sum

GENERATED = {"ORD-1": "orders", "ORD-2": "orders", "ITM-1": "items", "ITM-2": "items", "ITM-3": "items"}


def _sums(rows: list[tuple[str, tuple[str | int, ...]]]) -> dict[str, int]:
    """The outcome digest sums of a state made of `rows` (what an episode's digest sums would be)."""
    state = {table: table_digest_sum(table, [row for name, row in rows if name == table]) for table in ("orders", "items")}
    return outcome_digest_sums(state, rows, GENERATED)


def test_ids_swapped_between_rows_of_equal_content_give_one_outcome() -> None:
    made = [("orders", ("ORD-1", "C1", 10)), ("items", ("ITM-1", "ORD-1", "P1")), ("orders", ("ORD-2", "C1", 20))]
    swapped = [("orders", ("ORD-2", "C1", 10)), ("items", ("ITM-1", "ORD-2", "P1")), ("orders", ("ORD-1", "C1", 20))]
    assert _sums(made) == _sums(swapped)


def test_which_order_holds_which_items_still_counts() -> None:
    """The orders are alike; only the rows referring to them tell them apart, and refinement sees that."""
    shared = [("orders", ("ORD-1", "C1", 10)), ("orders", ("ORD-2", "C1", 10))]
    split = [*shared, ("items", ("ITM-1", "ORD-1", "P1")), ("items", ("ITM-2", "ORD-2", "P2"))]
    together = [*shared, ("items", ("ITM-1", "ORD-1", "P1")), ("items", ("ITM-2", "ORD-1", "P2"))]
    assert _sums(split) != _sums(together)
    names = canonical_names(split, GENERATED)
    assert names["ORD-1"] != names["ORD-2"]
    renamed_split = [*shared, ("items", ("ITM-3", "ORD-2", "P1")), ("items", ("ITM-1", "ORD-1", "P2"))]
    assert _sums(split) == _sums(renamed_split)


def test_other_content_gives_another_outcome() -> None:
    assert _sums([("orders", ("ORD-1", "C1", 10))]) != _sums([("orders", ("ORD-1", "C1", 11))])


def test_an_episode_without_generated_ids_has_its_state_hash_as_outcome(bank_db: DomainDatabase) -> None:
    with bank_db.fork() as env:
        assert env.call("freeze_card", {"client_id": "CL-000001", "card_id": "CARD-0000001"}).ok
        assert env.outcome_hash() == env.state_hash() != bank_db.state_hash


def test_payments_in_either_order_reach_one_outcome_and_a_failed_call_adds_nothing(bank_db: DomainDatabase) -> None:
    def pay(account: str, amount: float) -> dict[str, object]:
        return {"client_id": "CL-000001", "account_id": account, "payee_id": "PAY-0000001", "amount": amount}

    ends = []
    for order in ([pay("ACC-0000001", 20), pay("ACC-0000002", 30)], [pay("ACC-0000002", 30), pay("ACC-0000001", 20)]):
        with bank_db.fork() as env:
            assert not env.call("pay_payee", pay("ACC-0000001", 1_000_000)).ok  # its id was never written
            for arguments in order:
                assert env.call("pay_payee", arguments).ok
            ends.append((env.state_hash(), env.outcome_hash()))
    assert ends[0][0] != ends[1][0]
    assert ends[0][1] == ends[1][1]
