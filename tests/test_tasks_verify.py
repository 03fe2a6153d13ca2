"""The verifier: one crafted candidate per check, rejected for exactly that reason; a good one is kept."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from toolscale.domain.checks import changeable_columns
from toolscale.domain.loader import domain_dir, load_domain, load_spec
from toolscale.engine.database import DomainDatabase
from toolscale.engine.environment import Environment
from toolscale.examples import FIXTURE_FILE
from toolscale.populate.stage import populate
from toolscale.tasks.ambiguity import GrammarWords
from toolscale.tasks.checks import CHECKS
from toolscale.tasks.verify import Action, Candidate, Observed, Verifier

MARIA = "CL-000001"
EMAIL = "maria.okafor@example.com"
SCENARIO = (
    f"You are Maria Okafor ({EMAIL}). You want to move 100 from your checking account ending 4821 "
    "to your savings account ending 9034."
)
AUTHENTICATE = Action("find_client_by_email", {"email": EMAIL})
LIST_ACCOUNTS = Action("list_accounts", {"client_id": MARIA})


def phone(number: str) -> Action:
    return Action("update_contact_details", {"client_id": MARIA, "phone": number})


def payment(account: str, amount: float) -> Action:
    return Action("pay_payee", {"client_id": MARIA, "account_id": account, "payee_id": "PAY-0000001", "amount": amount})


LIST_PAYEES = Action("list_payees", {"client_id": MARIA})
PAY_FROM_SOME_ACCOUNT = f"You are Maria Okafor ({EMAIL}). You want to pay 50 to your saved payee City Power & Light."


def transfer(amount: float = 100, source: str = "ACC-0000001", target: str = "ACC-0000002") -> Action:
    return Action(
        "transfer_between_own_accounts",
        {"client_id": MARIA, "from_account_id": source, "to_account_id": target, "amount": amount},
    )


GOOD = Candidate(actions=(AUTHENTICATE, LIST_ACCOUNTS, transfer()), scenario=SCENARIO, communicate_info=("1150.75",))


def test_a_good_candidate_is_kept_with_its_final_state(bank_db: DomainDatabase) -> None:
    verdict = Verifier(bank_db).verify(GOOD)
    assert verdict.kept, verdict.reasons
    assert verdict.initial_hash == bank_db.state_hash != verdict.final_hash
    assert set(verdict.final_diff) == {"accounts", "transactions"}
    assert verdict.final_diff["accounts"]["ACC-0000001"]["after"]["balance"] == 1150.75
    assert [step.ok for step in verdict.trace] == [True, True, True]
    assert verdict.trace[-1].state_hash == verdict.final_hash


def test_reads_after_the_last_write_are_allowed(bank_db: DomainDatabase) -> None:
    read_back = Action("get_account", {"client_id": MARIA, "account_id": "ACC-0000002"})
    assert Verifier(bank_db).verify(Candidate((*GOOD.actions, read_back), SCENARIO)).kept


def _candidate(actions: tuple[Action, ...] = GOOD.actions, scenario: str = SCENARIO, info: tuple[str, ...] = ()) -> Candidate:
    return Candidate(actions=actions, scenario=scenario, communicate_info=info)


CASES: list[tuple[str, Candidate, Any]] = [
    ("invalid_action", _candidate((AUTHENTICATE, Action("wire_money", {}))), 1),
    ("invalid_action", _candidate((AUTHENTICATE, transfer(amount=-5))), 1),
    ("action_failed", _candidate((AUTHENTICATE, LIST_ACCOUNTS, transfer(amount=50_000))), 2),
    ("no_state_change", _candidate((AUTHENTICATE, LIST_ACCOUNTS)), None),
    (
        "prefix_reaches_goal",
        _candidate(
            (AUTHENTICATE, *[Action("update_contact_details", {"client_id": MARIA, "phone": "555-000-1111"})] * 2),
            f"You are Maria Okafor ({EMAIL}); your new phone number is 555-000-1111.",
        ),
        1,
    ),
    ("ungrounded_argument", _candidate((AUTHENTICATE, LIST_ACCOUNTS, transfer(amount=123))), 2),
    ("ungrounded_argument", _candidate((AUTHENTICATE, transfer())), 1),  # account ids never looked up
    ("leaked_id", _candidate(scenario=SCENARIO + " The account id is ACC-0000001."), None),
    ("leaked_id", _candidate(scenario=SCENARIO + f" Your customer number is {MARIA}."), None),
    ("uncommunicable_info", _candidate(info=("999.99",)), None),
    ("weak_communicate", _candidate(info=("checking",)), None),  # the user said it
    ("weak_communicate", _candidate(info=("75",)), None),  # in an output (1150.75), but too short to prove a read
    (
        "redundant_action",  # the first phone number is overwritten: dropping it changes nothing
        _candidate(
            (AUTHENTICATE, phone("555-000-1111"), phone("555-000-2222")),
            f"You are Maria Okafor ({EMAIL}); set your phone to 555-000-1111, then to 555-000-2222.",
        ),
        1,
    ),
    (
        "ambiguous_target",  # nothing says which of Maria's two accounts pays, and either can
        _candidate((AUTHENTICATE, LIST_ACCOUNTS, LIST_PAYEES, payment("ACC-0000001", 50)), PAY_FROM_SOME_ACCOUNT),
        3,
    ),
]


@pytest.mark.parametrize(("check", "candidate", "action_index"), CASES, ids=[f"{case[0]}-{i}" for i, case in enumerate(CASES)])
def test_each_check_rejects_its_crafted_candidate(
    bank_db: DomainDatabase, check: str, candidate: Candidate, action_index: Any
) -> None:
    verdict = Verifier(bank_db).verify(candidate)
    assert not verdict.kept
    assert {reason.check for reason in verdict.reasons} == {check}, verdict.reasons
    assert verdict.reasons[0].action_index == action_index


def test_a_target_the_words_pin_down_or_only_one_row_fits_is_not_ambiguous(bank_db: DomainDatabase) -> None:
    pay = (AUTHENTICATE, LIST_ACCOUNTS, LIST_PAYEES, payment("ACC-0000001", 50))
    said = PAY_FROM_SOME_ACCOUNT.replace("Light.", "Light from your checking account ending 4821.")
    assert Verifier(bank_db).verify(_candidate(pay, said)).kept
    # The grammar's mention names the kind, and a read returns it: "checking" tells the rows apart.
    by_kind = PAY_FROM_SOME_ACCOUNT.replace("Light.", "Light from your checking account.")
    assert Verifier(bank_db, GrammarWords(mentions={"accounts": frozenset({"kind"})})).verify(_candidate(pay, by_kind)).kept
    # A lookup of the grammar picks the account (say, the first one listed): the words need not name it.
    looked_up = GrammarWords(looked_up=frozenset({("pay_payee", "account_id")}))
    assert Verifier(bank_db, looked_up).verify(_candidate(pay, PAY_FROM_SOME_ACCOUNT)).kept
    # The source account is not named, but the only rival (the savings account) cannot pay into itself.
    unnamed_source = SCENARIO.replace("from your checking account ending 4821", "from your account")
    assert Verifier(bank_db).verify(_candidate(scenario=unnamed_source)).kept


def test_independent_writes_in_either_order_reach_one_outcome(bank_db: DomainDatabase) -> None:
    scenario = (
        f"You are Maria Okafor ({EMAIL}). Pay 20 and 30 to City Power & Light from your checking account ending 4821 "
        "and your savings account ending 9034."
    )
    reads = (AUTHENTICATE, LIST_ACCOUNTS, LIST_PAYEES)
    one, other = payment("ACC-0000001", 20), payment("ACC-0000002", 30)
    first = Verifier(bank_db).verify(_candidate((*reads, one, other), scenario))
    second = Verifier(bank_db).verify(_candidate((*reads, other, one), scenario))
    assert first.kept, first.reasons
    assert second.kept, second.reasons
    assert first.final_hash != second.final_hash  # the two new transactions swapped their ids
    assert first.outcome_hash == second.outcome_hash != bank_db.state_hash


def test_duplicates_are_rejected_after_the_first(bank_db: DomainDatabase) -> None:
    verifier = Verifier(bank_db)
    assert verifier.verify(GOOD).kept
    # Other reads and the same amount written as a float: still the same goal.
    same_goal = _candidate((AUTHENTICATE, Action("list_cards", {"client_id": MARIA}), LIST_ACCOUNTS, transfer(amount=100.0)))
    verdict = verifier.verify(same_goal)
    assert [reason.check for reason in verdict.reasons] == ["duplicate"]
    assert verifier.verify(_candidate((AUTHENTICATE, LIST_ACCOUNTS, transfer(amount=50)), SCENARIO + " Make it 50.")).kept


class _DriftingDatabase:
    """Stands in for a broken engine whose last episode starts from another state.

    The verifier opens three episodes: the initial state (to look ids up), the replay, the second replay.
    """

    def __init__(self, first: DomainDatabase, second: DomainDatabase) -> None:
        self.spec, self.tools = first.spec, first.tools
        self._episodes = iter([first, first, second])

    def fork(self) -> Environment:
        return next(self._episodes).fork()


def test_a_replay_that_ends_elsewhere_is_nondeterministic(bank_db: DomainDatabase) -> None:
    rows = yaml.safe_load((domain_dir("bank") / FIXTURE_FILE).read_text())
    rows["accounts"][0]["balance"] = 5000.0
    drifting = _DriftingDatabase(bank_db, DomainDatabase.build(bank_db.spec, rows))
    verdict = Verifier(drifting).verify(GOOD)  # type: ignore[arg-type]
    assert [reason.check for reason in verdict.reasons] == ["nondeterministic"]


def test_every_check_has_a_crafted_case() -> None:
    covered = {case[0] for case in CASES} | {"duplicate", "nondeterministic", "near_duplicate"}
    assert covered == set(CHECKS)


def test_a_replay_that_differs_from_what_synthesis_saw_is_nondeterministic(bank_db: DomainDatabase) -> None:
    seen = Verifier(bank_db).verify(GOOD)
    outputs = tuple(step.output for step in seen.trace)
    faithful = Candidate(GOOD.actions, SCENARIO, GOOD.communicate_info, Observed(outputs, seen.final_hash))
    assert Verifier(bank_db).verify(faithful).kept
    elsewhere = Candidate(GOOD.actions, SCENARIO, GOOD.communicate_info, Observed(outputs, bank_db.state_hash))
    assert [reason.check for reason in Verifier(bank_db).verify(elsewhere).reasons] == ["nondeterministic"]


def test_a_write_a_later_one_would_have_made_anyway_is_redundant() -> None:
    """weather's cancel_subscription revokes every active key, so revoking one first adds nothing. In the gold
    run the cancel leaves that key alone (it is revoked by then): what a later tool can change, not what it did
    change, is what sends the verifier to try the task without the first write."""
    database = populate(load_domain("weather"), 150, seed=0)
    with database.fork() as env:
        ((user, key, label, email, first, last),) = env.query(
            "SELECT k.user_id, k.key_id, k.label, u.email, u.first_name, u.last_name FROM api_keys k"
            " JOIN subscriptions s ON s.user_id = k.user_id JOIN users u ON u.user_id = k.user_id"
            " WHERE k.status = 'active' AND s.status <> 'cancelled' ORDER BY k.key_id LIMIT 1"
        )
    actions = (
        Action("find_user_by_email", {"email": email}),
        Action("list_api_keys", {"user_id": user}),
        Action("revoke_api_key", {"user_id": user, "key_id": key}),
        Action("cancel_subscription", {"user_id": user}),
    )
    scenario = f"You are {first} {last} ({email}). Revoke your API key labelled {label}, then cancel your subscription."
    verdict = Verifier(database).verify(Candidate(actions, scenario))
    assert [(reason.check, reason.action_index) for reason in verdict.reasons] == [("redundant_action", 2)]
    # Cancelling alone is a task: the same candidate without the revoke is kept.
    assert (
        Verifier(database)
        .verify(Candidate((*actions[:2], actions[3]), scenario.replace(f"Revoke your API key labelled {label}, then c", "C")))
        .kept
    )


PUT_PAYEE = {  # rewrites a payee's name by replacing its row: REPLACE deletes it and inserts it at another rowid
    "name": "put_payee",
    "kind": "write",
    "description": "Save a payee again under a new name.",
    "parameters": {
        "properties": {"client_id": {"type": "string"}, "payee_id": {"type": "string"}, "name": {"type": "string"}},
        "required": ["client_id", "payee_id", "name"],
    },
    "effects": [
        "INSERT OR REPLACE INTO payees (payee_id, client_id, name, account_number, created_on)"
        " SELECT payee_id, client_id, :name, account_number, created_on FROM payees"
        " WHERE payee_id = :payee_id AND client_id = :client_id"
    ],
    "result": {"query": "SELECT payee_id, name FROM payees WHERE payee_id = :payee_id"},
}
RENAME_PAYEE = {
    "name": "rename_payee",
    "kind": "write",
    "description": "Rename a payee.",
    "parameters": PUT_PAYEE["parameters"],
    "effects": ["UPDATE payees SET name = :name WHERE payee_id = :payee_id AND client_id = :client_id"],
    "result": PUT_PAYEE["result"],
}


TAKE_EMAIL = {  # an email another client holds is taken from them: UPDATE OR REPLACE deletes that client's row
    "name": "take_email",
    "kind": "write",
    "description": "Set the client's email, whoever had it.",
    "parameters": {
        "properties": {"client_id": {"type": "string"}, "email": {"type": "string"}},
        "required": ["client_id", "email"],
    },
    "effects": ["UPDATE OR REPLACE clients SET email = :email WHERE client_id = :client_id"],
    "result": {"query": "SELECT client_id, email FROM clients WHERE client_id = :client_id"},
}


@pytest.fixture(scope="module")
def replacing_bank(tmp_path_factory: pytest.TempPathFactory) -> DomainDatabase:
    """The bank with three more tools: two that REPLACE rows, one that renames a payee."""
    data = yaml.safe_load((domain_dir("bank") / "domain.yaml").read_text(encoding="utf-8"))
    data["tools"] += [PUT_PAYEE, RENAME_PAYEE, TAKE_EMAIL]
    path = tmp_path_factory.mktemp("replacing") / "bank" / "domain.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return populate(load_spec(path), 60, seed=0)


def test_what_a_tool_can_change_counts_a_replace_as_every_column(replacing_bank: DomainDatabase) -> None:
    changeable = changeable_columns(replacing_bank.spec)
    assert changeable["put_payee"] == {("payees", None)}  # the rows a REPLACE deletes are not named anywhere
    assert changeable["rename_payee"] == {("payees", "name")}
    assert ("clients", None) in changeable["take_email"]  # an UPDATE that may delete the row holding the email
    assert changeable["pay_payee"] == {("accounts", "balance"), ("transactions", None)}


def test_a_row_replace_moves_is_one_row_changed_where_its_values_differ(replacing_bank: DomainDatabase) -> None:
    with replacing_bank.fork() as env:
        ((client, payee, rowid),) = env.query("SELECT client_id, payee_id, rowid FROM payees ORDER BY rowid LIMIT 1")
        assert env.call("put_payee", {"client_id": client, "payee_id": payee, "name": "Alpha"}).ok
        ((moved,),) = env.query("SELECT rowid FROM payees WHERE payee_id = ?", (payee,))
        assert moved != rowid
        assert env.last_changed == {("payees", moved, "name")}
        assert env.call("remove_payee", {"client_id": client, "payee_id": payee}).ok
        payees = next(table for table in replacing_bank.spec.tables if table.name == "payees")
        assert env.last_changed == {("payees", moved, column.name) for column in payees.columns}


def test_a_write_whose_row_a_later_one_rewrites_whole_is_redundant(replacing_bank: DomainDatabase) -> None:
    """put_payee moves the row; rename_payee then sets the name it set: without put_payee the state is the same
    (the state hash has no rowids), which only a replay shows."""
    with replacing_bank.fork() as env:
        ((client, payee, name, email, first, last),) = env.query(
            "SELECT p.client_id, p.payee_id, p.name, c.email, c.first_name, c.last_name FROM payees p"
            " JOIN clients c ON c.client_id = p.client_id WHERE c.status = 'active' ORDER BY p.rowid LIMIT 1"
        )
    actions = (
        Action("find_client_by_email", {"email": email}),
        Action("list_payees", {"client_id": client}),
        Action("put_payee", {"client_id": client, "payee_id": payee, "name": "Alpha Power"}),
        Action("rename_payee", {"client_id": client, "payee_id": payee, "name": "Beta Power"}),
    )
    scenario = f"You are {first} {last} ({email}). Rename your payee {name} to Alpha Power, then to Beta Power."
    verdict = Verifier(replacing_bank).verify(Candidate(actions, scenario))
    assert [(reason.check, reason.action_index) for reason in verdict.reasons] == [("redundant_action", 2)]
