"""The retail port behaves exactly like τ²-bench's retail domain.

domains/retail/tau2_gold_replay.jsonl (see domains/retail/NOTICE.md) records, for every task of
upstream's tasks.json, each gold action's ok/output/error and the final database diff when the
actions run on upstream's own environment. Our replay of the same actions must agree on all of it,
types included (1 and 1.0 differ), failing actions too.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from toolscale.cli import app
from toolscale.tau2 import retail
from toolscale.tau2.export import read_exportable
from toolscale.tau2.replay import Replayer
from toolscale.tau2.tasks import import_tasks, read_tau2_tasks, tau2_tasks_json, write_task_records

GOLD = retail.gold_replay_path()
TASKS = retail.tasks_path()
INITIAL_HASH = "b25c9cb211f5efcaee5dd646054a73c4a9f43f4f5acc32c10713cd9f9ac20e9c"


def gold_lines() -> list[dict[str, Any]]:
    return [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def replayer() -> Replayer:
    return Replayer.for_domain("retail")


def differences(mine: Any, theirs: Any, path: str = "") -> Iterator[str]:
    """Where two JSON values differ, types included, as 'path: ours vs upstream' lines."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        for key in sorted(set(mine) | set(theirs)):
            if key not in mine or key not in theirs:
                yield f"{path}/{key}: {'missing' if key not in mine else 'extra'} in ours"
            else:
                yield from differences(mine[key], theirs[key], f"{path}/{key}")
    elif isinstance(mine, list) and isinstance(theirs, list) and len(mine) == len(theirs):
        for index, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            yield from differences(a, b, f"{path}[{index}]")
    elif retail.canonical(mine) != retail.canonical(theirs):
        yield f"{path or '(value)'}: ours {retail.canonical(mine)[:200]} vs upstream {retail.canonical(theirs)[:200]}"


@pytest.mark.parametrize("gold", gold_lines(), ids=lambda gold: f"task-{gold['task_id']}")
def test_gold_actions_match_upstream(replayer: Replayer, gold: dict[str, Any]) -> None:
    result = replayer.replay({"id": gold["task_id"], "actions": gold["actions"]})
    problems = []
    for call, expected in zip(result["actions"], gold["actions"], strict=True):
        for key in ("ok", "error", "output"):
            problems += [
                f"call {expected['action_id']} ({expected['name']}) {key}{line}" for line in differences(call[key], expected[key])
            ]
    problems += [f"final_db_diff{line}" for line in differences(result["final_db_diff"], gold["final_db_diff"])]
    problems += [f"{key} differs" for key in ("task_id", "initial_db_hash", "final_db_hash") if result[key] != gold[key]]
    problems += [
        f"call {a['action_id']} error_type"
        for a, b in zip(gold["actions"], result["actions"], strict=True)
        if a["error_type"] != b["error_type"]
    ]
    assert not problems, f"task {gold['task_id']}:\n" + "\n".join(problems[:20])


def test_gold_covers_failing_and_writing_tasks() -> None:
    """The file exercises what the port must reproduce: failed gold actions and changed databases."""
    lines = gold_lines()
    assert len(lines) == 114
    assert sum(len(line["actions"]) for line in lines) == 550
    assert sum(not action["ok"] for line in lines for action in line["actions"]) == 18
    assert sum(any(line["final_db_diff"].values()) for line in lines) == 103


def test_a_wrong_state_is_reported(replayer: Replayer) -> None:
    """The diff comparison can fail: one extra address change shows up as a changed user record."""
    gold = gold_lines()[0]
    extra = {
        "name": "modify_user_address",
        "arguments": {"user_id": "yusuf_rossi_9620"} | dict.fromkeys(retail.ADDRESS_FIELDS, "x"),
    }
    result = replayer.replay({"id": "0", "actions": [*gold["actions"], extra]})
    assert list(differences(result["final_db_diff"], gold["final_db_diff"])) != []
    assert result["final_db_diff"]["users"]["yusuf_rossi_9620"]["address"]["city"] == "x"


def test_database_round_trips_to_upstream_json() -> None:
    upstream = retail.load_upstream()
    with retail.build_database(upstream).fork() as environment:
        exported = retail.export_upstream(environment)
    for order in upstream["orders"].values():
        assert not set(retail.OPTIONAL_ORDER_FIELDS) & set(order)
        order.update(dict.fromkeys(retail.OPTIONAL_ORDER_FIELDS))
    assert retail.canonical(exported) == retail.canonical(upstream)
    assert retail.upstream_hash(exported) == INITIAL_HASH
    # Record order and list order survive too, not only content.
    assert list(exported["users"]) == list(upstream["users"])
    assert [list(user["payment_methods"]) for user in exported["users"].values()] == [
        list(user["payment_methods"]) for user in upstream["users"].values()
    ]


def test_optional_order_fields_round_trip() -> None:
    upstream = retail.load_upstream()
    order = next(iter(upstream["orders"].values()))
    method = order["payment_history"][0]["payment_method_id"]
    order |= {
        "status": "exchange requested",
        "cancel_reason": "ordered by mistake",
        "exchange_items": ["1", "2"],
        "exchange_new_items": ["3", "4"],
        "exchange_payment_method_id": method,
        "exchange_price_difference": 0.04999999999999716,
        "return_items": ["5"],
        "return_payment_method_id": method,
    }
    rows = retail.rows_from_upstream(upstream)
    assert retail.upstream_from_rows(rows)["orders"][order["order_id"]] == order


def test_converter_names_inconsistent_records() -> None:
    upstream = retail.load_upstream()
    user = next(iter(upstream["users"].values()))
    user["orders"].pop()
    with pytest.raises(retail.ConversionError, match=r"orders\[#W\d+\]: not listed in the orders of its user"):
        retail.rows_from_upstream(upstream)


def test_tasks_import_export_round_trip(tmp_path: Path) -> None:
    tasks = read_tau2_tasks(TASKS)
    records_path = tmp_path / "records.jsonl"
    write_task_records(import_tasks(tasks, "retail"), records_path)
    records = read_exportable(records_path)
    assert {record.domain for record in records} == {"retail"}
    assert tau2_tasks_json(records) == TASKS.read_text(encoding="utf-8")


def test_cli_replay_import_export(tmp_path: Path) -> None:
    runner = CliRunner()
    calls = tmp_path / "calls.jsonl"
    gold = gold_lines()[:3]
    calls.write_text("".join(json.dumps({"id": g["task_id"], "actions": g["actions"]}) + "\n" for g in gold))
    out = tmp_path / "result.jsonl"
    result = runner.invoke(app, ["tau2", "replay", "--domain", "retail", "--calls", str(calls), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["task_id"] for line in lines] == [g["task_id"] for g in gold]
    assert [line["final_db_diff"] for line in lines] == [g["final_db_diff"] for g in gold]
    assert set(lines[0]) == set(gold[0])  # upstream's gold replay fields, no more and no fewer
    assert set(lines[0]["actions"][0]) == set(gold[0]["actions"][0])

    records = tmp_path / "records.jsonl"
    result = runner.invoke(app, ["tau2", "import", str(TASKS), "--out", str(records)])
    assert result.exit_code == 0, result.output
    back = tmp_path / "tasks.json"
    result = runner.invoke(app, ["tau2", "export", str(records), "--out", str(back)])
    assert result.exit_code == 0, result.output
    assert back.read_bytes() == TASKS.read_bytes()


def test_import_rejects_actions_the_domain_cannot_run(tmp_path: Path) -> None:
    tasks = json.loads(TASKS.read_text(encoding="utf-8"))[:1]
    tasks[0]["evaluation_criteria"]["actions"][0]["name"] = "teleport"
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(tasks))
    result = CliRunner().invoke(app, ["tau2", "import", str(path), "--out", str(tmp_path / "r.jsonl")])
    assert result.exit_code == 1
    assert "task '0' action '0_0': unknown tool 'teleport'" in result.output


def test_replay_accepts_imported_task_records(replayer: Replayer) -> None:
    """`toolscale tau2 import` output replays as is: the gold actions come from evaluation_criteria."""
    gold = gold_lines()[5]
    task = next(task for task in json.loads(TASKS.read_text()) if task["id"] == gold["task_id"])
    from_record = replayer.replay(task | {"domain": "retail"})
    assert from_record["final_db_diff"] == replayer.replay({"id": gold["task_id"], "actions": gold["actions"]})["final_db_diff"]
    assert [call["ok"] for call in from_record["actions"]] == [call["ok"] for call in gold["actions"]]


def test_vendored_reference_files_match_their_recorded_checksums() -> None:
    """The copies in domains/retail/ are the ones NOTICE.md names: an edited copy would make every
    conformance test above compare against something other than upstream."""
    notice = (retail.data_path().parent / "NOTICE.md").read_text(encoding="utf-8")
    checksum_lines = (line.split() for line in notice.splitlines() if re.fullmatch(r"[0-9a-f]{64}  \S+", line))
    recorded = {name: digest for digest, name in checksum_lines}
    assert set(recorded) >= {retail.DATA_FILE, retail.TASKS_FILE, retail.GOLD_REPLAY_FILE}
    for name, digest in recorded.items():
        assert hashlib.sha256((retail.data_path().parent / name).read_bytes()).hexdigest() == digest, name
