"""The Environment: observations, atomicity, deterministic ids and clock, diff, tool export."""

from __future__ import annotations

import json

import pytest

from toolscale.engine.database import DomainDatabase
from toolscale.spec.models import DomainSpec

MARIA = "CL-000001"
CHECKING, SAVINGS = "ACC-0000001", "ACC-0000002"


def transfer(amount: float, source: str = CHECKING, target: str = SAVINGS) -> dict[str, object]:
    return {"client_id": MARIA, "from_account_id": source, "to_account_id": target, "amount": amount}


def test_read_returns_typed_json(bank_db: DomainDatabase) -> None:
    with bank_db.fork() as env:
        observation = env.call("list_cards", {"client_id": MARIA})
    assert observation.ok
    assert observation.output == [
        {
            "card_id": "CARD-0000001",
            "account_id": CHECKING,
            "last_four": "1111",
            "status": "active",
            "daily_limit": 1000.0,
            "expires_on": "2027-08-31",
        }
    ]
    assert json.loads(observation.content) == observation.output


def test_lookup_value_shape_and_case_insensitive_match(bank_db: DomainDatabase) -> None:
    with bank_db.fork() as env:
        observation = env.call("find_client_by_email", {"email": "MARIA.OKAFOR@example.com"})
    assert observation.output == MARIA
    assert observation.content == MARIA  # text is shown as it is, not as a JSON string


@pytest.mark.parametrize(
    ("tool", "arguments", "reason", "error"),
    [
        ("no_such_tool", {}, "unknown_tool", "Unknown tool 'no_such_tool'. Available tools: add_payee"),
        ("get_account", {"client_id": MARIA}, "invalid_arguments", '"account_id" is a required property'),
        ("get_account", {"client_id": MARIA, "account_id": 7}, "invalid_arguments", "account_id: 7 is not of type"),
        ("get_account", {"client_id": MARIA, "account_id": CHECKING, "pin": "1"}, "invalid_arguments", "Additional properties"),
        ("get_account", "{not json", "invalid_arguments", "Arguments of get_account are not valid JSON"),
        ("get_account", "[1, 2]", "invalid_arguments", 'Invalid arguments for get_account: [1,2] is not of type "object"'),
        ("get_account", {"client_id": "CL-000002", "account_id": CHECKING}, "precondition", "Account ACC-0000001 not found"),
        ("transfer_between_own_accounts", transfer(5000), "constraint", "Insufficient funds for this operation."),
        ("transfer_between_own_accounts", transfer(10, CHECKING, CHECKING), "precondition", "accounts must differ."),
        ("set_card_daily_limit", {"client_id": MARIA, "card_id": "CARD-0000001", "daily_limit": 20}, "constraint", "between"),
        ("list_transactions", {"client_id": MARIA, "account_id": CHECKING, "limit": 10**30}, "invalid_arguments", "Invalid"),
    ],
)
def test_bad_calls_are_error_observations_and_change_nothing(
    bank_db: DomainDatabase, tool: str, arguments: dict[str, object] | str, reason: str, error: str
) -> None:
    with bank_db.fork() as env:
        observation = env.call(tool, arguments)
        assert not observation.ok
        assert observation.reason == reason
        assert observation.error is not None
        assert error in observation.error
        assert observation.content == f"Error: {observation.error}"
        assert env.state_hash() == bank_db.state_hash
        assert env.state_diff() == {}


def test_a_failed_precondition_is_named_by_its_index(bank_db: DomainDatabase) -> None:
    with bank_db.fork() as env:
        observation = env.call("unfreeze_card", {"client_id": MARIA, "card_id": "CARD-0000001"})
    assert (observation.reason, observation.precondition) == ("precondition", 1)
    assert observation.error == "Card CARD-0000001 is not frozen."


def test_failed_write_rolls_back_every_effect(bank_db: DomainDatabase) -> None:
    with bank_db.fork() as env:
        assert env.call("transfer_between_own_accounts", transfer(1000)).ok
        after_first = env.state_hash()
        # Only 250.75 + 250 overdraft left: the first UPDATE would pass a smaller amount, this one fails.
        failed = env.call("transfer_between_own_accounts", transfer(600))
        assert not failed.ok
        assert env.state_hash() == after_first == env.rescanned_state_hash()
        balances = dict(env.query("SELECT account_id, balance FROM accounts WHERE client_id = ?", (MARIA,)))
        assert balances == {CHECKING: 250.75, SAVINGS: 9000.0}
        assert env.query("SELECT count(*) FROM transactions") == [(5,)]


def test_multi_effect_failure_after_earlier_effects_succeeded(tiny_db: DomainDatabase) -> None:
    with tiny_db.fork() as env:
        before = env.state_hash()
        # The first effect inserts a line; the second pushes the total over the order's limit.
        observation = env.call("add_line", {"order_id": 1, "amount": 500})
        assert observation.error == "The order total may not exceed its limit."
        assert env.query("SELECT count(*) FROM lines") == [(0,)]
        assert env.state_hash() == before == env.rescanned_state_hash()
        assert env.call("add_line", {"order_id": 1, "amount": 50}).ok
        assert env.query("SELECT total FROM orders") == [(50.0,)]


def test_generated_ids_and_clock_are_deterministic(bank_db: DomainDatabase) -> None:
    outputs, hashes = [], []
    for _ in range(2):
        with bank_db.fork() as env:
            outputs.append(env.call("transfer_between_own_accounts", transfer(10)).output)
            row = env.query("SELECT transaction_id, posted_at FROM transactions ORDER BY rowid DESC LIMIT 1")
            hashes.append(env.state_hash())
    assert outputs[0] == outputs[1] == {"transaction_id": "TXN-00000004", "from_balance": 1240.75, "to_balance": 8010.0}
    assert row == [("TXN-00000005", "2025-06-02T10:00:00")]
    assert hashes[0] == hashes[1]


def test_forks_are_isolated(bank_db: DomainDatabase) -> None:
    with bank_db.fork() as first, bank_db.fork() as second:
        assert first.call("freeze_card", {"client_id": MARIA, "card_id": "CARD-0000001"}).ok
        assert second.call("list_cards", {"client_id": MARIA}).output[0]["status"] == "active"
        assert second.state_hash() == bank_db.state_hash != first.state_hash()


def test_state_diff_lists_changed_rows_only(bank_db: DomainDatabase) -> None:
    with bank_db.fork() as env:
        env.call("freeze_card", {"client_id": MARIA, "card_id": "CARD-0000001"})
        env.call("remove_payee", {"client_id": MARIA, "payee_id": "PAY-0000001"})
        diff = env.state_diff()
    assert set(diff) == {"cards", "payees"}
    card = diff["cards"]["CARD-0000001"]
    assert card["before"] is not None
    assert card["after"] is not None
    assert (card["before"]["status"], card["after"]["status"]) == ("active", "frozen")
    assert diff["payees"]["PAY-0000001"]["after"] is None
    assert diff["payees"]["PAY-0000001"]["before"] == {
        "payee_id": "PAY-0000001",
        "client_id": MARIA,
        "name": "City Power & Light",
        "account_number": "4400112233",
        "created_on": "2021-04-04",
    }


def test_change_and_change_back_leaves_no_diff_and_the_initial_hash(bank_db: DomainDatabase) -> None:
    with bank_db.fork() as env:
        assert env.call("freeze_card", {"client_id": MARIA, "card_id": "CARD-0000001"}).ok
        assert env.call("unfreeze_card", {"client_id": MARIA, "card_id": "CARD-0000001"}).ok
        assert env.state_diff() == {}
        assert env.state_hash() == bank_db.state_hash


def test_last_changed_names_the_cells_a_write_changed_not_those_it_rewrote_as_they_were(bank_db: DomainDatabase) -> None:
    with bank_db.fork() as env:
        ((rowid, current),) = env.query("SELECT rowid, phone FROM clients WHERE client_id = ?", (MARIA,))
        assert env.call("update_contact_details", {"client_id": MARIA, "phone": current}).ok
        assert env.last_changed == frozenset()  # the UPDATE ran and was logged, but the row is as it was
        assert env.call("update_contact_details", {"client_id": MARIA, "phone": "555-000-1111"}).ok
        assert env.last_changed == {("clients", rowid, "phone")}  # not the email it set as it was
        assert env.call("list_accounts", {"client_id": MARIA}).ok
        assert env.last_changed == {("clients", rowid, "phone")}  # a read is not a write
        added = env.call("add_payee", {"client_id": MARIA, "name": "Gym", "account_number": "5555555555"})
        ((payee_rowid,),) = env.query("SELECT rowid FROM payees WHERE payee_id = ?", (added.output["payee_id"],))
        payees = next(table for table in bank_db.spec.tables if table.name == "payees")
        assert env.last_changed == {("payees", payee_rowid, column.name) for column in payees.columns}


def test_delete_then_insert_reusing_the_rowid_diffs_by_primary_key(bank_db: DomainDatabase) -> None:
    with bank_db.fork() as env:
        assert env.call("remove_payee", {"client_id": "CL-000002", "payee_id": "PAY-0000002"}).ok
        added = env.call("add_payee", {"client_id": MARIA, "name": "Gym", "account_number": "5555555555"})
        assert added.output["payee_id"] == "PAY-0000002"
        diff = env.state_diff()["payees"]["PAY-0000002"]
        assert diff["before"] is not None
        assert diff["after"] is not None
        assert (diff["before"]["client_id"], diff["after"]["client_id"]) == ("CL-000002", MARIA)
        assert env.state_hash() == env.rescanned_state_hash()


def test_openai_tool_format(bank_db: DomainDatabase, bank_spec: DomainSpec) -> None:
    with bank_db.fork() as env:
        tools = {tool["function"]["name"]: tool for tool in env.openai_tools()}
    assert set(tools) == {tool.name for tool in bank_spec.tools}
    transfer_tool = tools["transfer_between_own_accounts"]
    assert transfer_tool["type"] == "function"
    parameters = transfer_tool["function"]["parameters"]
    assert parameters["type"] == "object"
    assert parameters["additionalProperties"] is False
    assert parameters["required"] == ["client_id", "from_account_id", "to_account_id", "amount"]
    assert parameters["properties"]["amount"] == {"type": "number", "exclusiveMinimum": 0.0, "maximum": 1000000.0}


def test_query_cannot_change_the_episode(bank_db: DomainDatabase) -> None:
    with bank_db.fork() as env:
        env.query("DELETE FROM cards")
        assert env.query("SELECT count(*) FROM cards") == [(3,)]
        assert env.state_hash() == bank_db.state_hash


def test_a_closed_episode_leaves_nothing_behind_for_the_next(bank_db: DomainDatabase) -> None:
    with bank_db.fork() as env:
        assert env.call("transfer_between_own_accounts", transfer(100)).ok
    with bank_db.fork() as env:  # reuses the pooled copy the first episode rolled back
        assert env.state_hash() == bank_db.state_hash == env.rescanned_state_hash()
        assert env.call("get_account", {"client_id": MARIA, "account_id": CHECKING}).output["balance"] == 1250.75
        assert env.state_diff() == {}


def test_database_pickles_without_its_connections(bank_db: DomainDatabase) -> None:
    import pickle

    with bank_db.fork():
        clone = pickle.loads(pickle.dumps(bank_db))
    assert clone.state_hash == bank_db.state_hash
    with clone.fork() as env:
        assert env.call("find_client_by_email", {"email": "tom.l@example.net"}).output == "CL-000002"
