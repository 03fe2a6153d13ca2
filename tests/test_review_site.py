"""The review site's data, `review apply`, `review serve` and `toolscale show` on a small pipeline output."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tests.review_fixtures import write_trajectories
from toolscale.cli import app
from toolscale.data.labels import LABELS_FILE, LabelError, read_labels
from toolscale.domain.loader import domain_names, load_domain
from toolscale.engine.database import DomainDatabase
from toolscale.pipeline.config import load_run_config
from toolscale.pipeline.run import run_pipeline
from toolscale.review.apply import apply_labels
from toolscale.review.pages import check_verdicts
from toolscale.review.replay import replay, step_changes
from toolscale.review.serve import SERVED_LABELS, review_server
from toolscale.review.site import build_site, domain_tasks
from toolscale.review.specs import parsed_spec
from toolscale.review.trajectories import TrajectoryError, divergence, read_rollouts
from toolscale.tasks.record import ReasonRecord

DOMAIN = "weather"  # seed 6: the first 30 kept tasks come with rejected candidates among them
KEPT = 30
CONFIG = {"name": "review-data", "seed": 6, "domains": [{"name": DOMAIN, "size": 150}], "tasks": KEPT, "unit_candidates": 60}


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("review-data")
    (directory / "run.yaml").write_text(yaml.safe_dump({**CONFIG, "output_dir": str(directory / "out")}), encoding="utf-8")
    run_pipeline(load_run_config(directory / "run.yaml"), workers=1, progress=False)
    return directory / "out"


def chunk(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text[text.index(",") + 1 : text.rindex(")")])


def test_replayed_steps_add_up_to_the_recorded_diff_and_final_state(output: Path) -> None:
    database = DomainDatabase.load(load_domain(DOMAIN), output / "databases" / f"{DOMAIN}.sqlite")
    for task, _ in domain_tasks(output, DOMAIN):
        steps = replay(database, task)
        assert len(steps) == len(task.actions)
        if task.verification.verdict == "kept":
            assert steps[-1].state_hash == task.verification.expected_final_hash
        net: dict[str, dict[str, dict[str, Any]]] = {}
        for step in steps:
            for table, rows in step.changes.items():
                for key, change in rows.items():
                    start = net.get(table, {}).get(key, change)["before"]
                    net.setdefault(table, {})[key] = {"before": start, "after": change["after"]}
        squashed = {t: {k: c for k, c in rows.items() if c["before"] != c["after"]} for t, rows in net.items()}
        assert {t: rows for t, rows in squashed.items() if rows} == task.verification.expected_diff


def test_a_step_that_undoes_an_earlier_one_shows_both_sides() -> None:
    start, changed = {"id": "A", "status": "open"}, {"id": "A", "status": "closed"}
    first: dict[str, Any] = {"t": {"A": {"before": start, "after": changed}}}
    assert step_changes({}, first) == first
    assert step_changes(first, {}) == {"t": {"A": {"before": changed, "after": start}}}


def test_checks_after_the_failing_one_are_not_run_and_before_it_passed(output: Path) -> None:
    tasks = [task for task, _ in domain_tasks(output, DOMAIN)]
    kept = next(task for task in tasks if task.verification.verdict == "kept")
    assert {verdict["status"] for verdict in check_verdicts(kept)} == {"passed"}
    reason = ReasonRecord(
        check="prefix_reaches_goal", detail="the first 2 action(s) already reach the final state", action_index=1
    )
    verification = kept.verification.model_copy(update={"verdict": "rejected", "reasons": [reason]})
    rejected = kept.model_copy(update={"verification": verification})
    verdicts = {verdict["check"]: verdict["status"] for verdict in check_verdicts(rejected)}
    assert verdicts["no_state_change"] == "passed"
    assert verdicts["prefix_reaches_goal"] == "failed"
    assert verdicts["leaked_id"] == verdicts["duplicate"] == "not run"


def test_divergence_names_the_first_step_off_the_gold_actions() -> None:
    gold = [("find", {"a": 1}), ("write", {"b": 2})]
    same = [{"index": 0, "name": "find", "arguments": {"a": 1}}, {"index": 1, "name": "write", "arguments": {"b": 2}}]
    assert divergence(same, gold) is None
    expert = [{"index": 0, "name": "call_expert", "arguments": {}}, *({**step, "index": step["index"] + 1} for step in same)]
    assert divergence(expert, gold) is None
    other = [same[0], {"index": 1, "name": "write", "arguments": {"b": 3}}]
    assert divergence(other, gold) == {"step": 1, "gold": 1, "reason": "write with other arguments than gold"}
    assert divergence(same[:1], gold) == {"step": None, "gold": 1, "reason": "stopped after 1 of 2 gold actions"}


def test_site_is_chunked_deterministic_and_carries_rollouts(output: Path, tmp_path: Path) -> None:
    tasks = domain_tasks(output, DOMAIN)
    kept = [task.id for task, split in tasks if split is not None]
    trajectories = write_trajectories(output, DOMAIN, kept[:2], tmp_path / "runs" / "trajectories.jsonl")
    first = build_site(output, tmp_path / "a", [tmp_path / "runs"], workers=1)
    second = build_site(output, tmp_path / "b", [trajectories], workers=1)
    files = sorted(str(path.relative_to(first.site)) for path in first.site.rglob("*") if path.is_file())
    assert f".build/{DOMAIN}.json" in files
    assert files == sorted(str(path.relative_to(second.site)) for path in second.site.rglob("*") if path.is_file())
    assert all((first.site / name).read_bytes() == (second.site / name).read_bytes() for name in files)
    assert (first.kept, first.rejected, first.rollouts) == (KEPT, len(tasks) - KEPT, 6)
    unchanged = build_site(output, first.site, [trajectories], workers=1)
    assert unchanged.rebuilt == 0
    assert all((first.site / name).read_bytes() == (second.site / name).read_bytes() for name in files)
    index = chunk(first.site / "data" / "index" / f"{DOMAIN}.js")
    assert index["columns"]["id"] == [task.id for task, _ in tasks]
    pages = [page for path in sorted((first.site / "data" / "tasks" / DOMAIN).glob("*.js")) for page in chunk(path)]
    assert {page["id"] for page in pages} == {task.id for task, _ in tasks}
    with_rollouts = {page["id"]: page["rollouts"] for page in pages if page["rollouts"]}
    assert set(with_rollouts) == set(kept[:2])
    policies = {(r["policy"], r["source"]): r for r in with_rollouts[kept[0]]}
    assert policies[("gold-replay", "eval")]["divergence"] is None
    assert policies[("gold-replay", "eval")]["reached_gold_state"] is True
    assert policies[("stops-early", "eval")]["divergence"]["reason"].startswith("stopped after")
    assert "a_key_readers_ignore" not in policies[("stops-early", "train")]
    assert (first.site / "policies" / f"{DOMAIN}.html").read_text().count("<h2>") >= 1
    assert "http" not in (first.site / "index.html").read_text()  # nothing from a CDN
    assert build_site(output, first.site, [], workers=1).rebuilt == 1  # its rollouts changed


def test_bad_trajectories_are_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "trajectories.jsonl"
    path.write_text('{"task_id": "a", "steps": []}\n{"steps": []}\n', encoding="utf-8")
    with pytest.raises(TrajectoryError, match=r"trajectories.jsonl:2: task_id"):
        read_rollouts([path])


def test_apply_records_labels_once_and_refuses_unknown_tasks(output: Path, tmp_path: Path) -> None:
    task = domain_tasks(output, DOMAIN)[0][0].id
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps({"task_id": task, "verdict": "approved", "note": "", "at": "t"}) + "\n", encoding="utf-8")
    try:
        assert apply_labels(labels, output).added == 1
        again = apply_labels(labels, output)
        assert (again.added, again.already, again.counts["approved"]) == (0, 1, 1)
        labels.write_text(f'{{"task_id": "{DOMAIN}-9-nope", "verdict": "flagged"}}\n', encoding="utf-8")
        with pytest.raises(LabelError, match=rf"labels.jsonl:1: task_id: '{DOMAIN}-9-nope' is not a task of"):
            apply_labels(labels, output)
        assert len(read_labels(output / LABELS_FILE)) == 1
    finally:
        (output / LABELS_FILE).unlink(missing_ok=True)


@pytest.fixture
def served(output: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    site = build_site(output, tmp_path / "site", workers=1).site
    server = review_server(site, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", site
    finally:
        server.shutdown()
        server.server_close()


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_serve_serves_the_site_and_appends_posted_labels(served: tuple[str, Path]) -> None:
    url, site = served
    with urllib.request.urlopen(url + "index.html", timeout=10) as response:
        assert b"ToolScale review" in response.read()
    assert post(url + "labels", b'{"task_id": "bank-0-0000001", "verdict": "flagged", "note": "n", "at": "t"}') == 204
    assert post(url + "labels", b'{"task_id": "bank-0-0000001", "verdict": "nope"}') == 400
    assert post(url + "index.html", b"{}") == 404
    assert [(label.task_id, label.verdict) for label in read_labels(site / SERVED_LABELS)] == [("bank-0-0000001", "flagged")]


def test_cli_review_show_and_apply(output: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    built = runner.invoke(app, ["review", str(output), "--out", str(tmp_path / "site"), "--workers", "1"])
    assert built.exit_code == 0, built.output
    assert f"{KEPT} kept tasks" in built.output
    assert (tmp_path / "site" / "index.html").is_file()
    rejected = next(task for task, split in domain_tasks(output, DOMAIN) if split is None)
    shown = runner.invoke(app, ["show", rejected.id, "--output", str(output)])
    assert shown.exit_code == 0, shown.output
    assert "REJECTED" in shown.output
    assert f"✗ {rejected.verification.reasons[0].check}" in shown.output
    assert (
        runner.invoke(app, ["show", f"{DOMAIN}-9-0000000", "--output", str(output)]).output.strip().endswith("(kept or rejected)")
    )
    bad = tmp_path / "labels.jsonl"
    bad.write_text('{"task_id": 3}\n', encoding="utf-8")
    applied = runner.invoke(app, ["review", "apply", str(bad), "--output", str(output)])
    assert applied.exit_code == 1
    assert applied.output.strip().startswith(f"{bad}:1: task_id:")
    missing = runner.invoke(app, ["review", str(tmp_path / "nothing")])
    assert missing.exit_code == 1
    assert "not a `toolscale run` output directory" in missing.output


@pytest.mark.parametrize("domain", domain_names())
def test_the_reviews_parsed_spec_is_the_checked_one(domain: str) -> None:
    assert parsed_spec(domain) == load_domain(domain)
