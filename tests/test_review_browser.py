"""The review site in a real headless Chromium: filter, open a rejected and a kept task, flag it, apply, rebuild.

Runs a small pipeline (bank, seed 6: some candidates are rejected at a step), builds the site with
rollouts from tests/review_fixtures.py and drives it from file:// as a reviewer would. The tasks it opens
are found in the output (the first candidate rejected at a step, the first kept task that writes), so a
change in generation moves them instead of breaking the test.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import BrowserContext, Page, expect

from tests.review_fixtures import write_trajectories
from toolscale.data.labels import LABELS_FILE, read_labels
from toolscale.pipeline.config import load_run_config
from toolscale.pipeline.run import run_pipeline
from toolscale.review.apply import apply_labels, task_ids
from toolscale.review.browser import chromium
from toolscale.review.serve import SERVED_LABELS, review_server
from toolscale.review.site import build_site, domain_tasks

CONFIG = {"name": "review", "seed": 6, "domains": [{"name": "bank", "size": 300}], "tasks": 45, "unit_candidates": 10}


def rejected_at_a_step(output: Path) -> tuple[str, str, int]:
    """(task id, reason, failing action index) of the first candidate rejected at one of its actions."""
    for task, split in domain_tasks(output, "bank"):
        reason = task.verification.reasons[0] if split is None else None
        if reason is not None and reason.action_index is not None:
            return task.id, reason.check, reason.action_index
    raise AssertionError("the run rejected no candidate at a step")


def kept_writing_task(output: Path) -> str:
    return next(task.id for task, split in domain_tasks(output, "bank") if split is not None and task.verification.expected_diff)


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("review")
    (directory / "run.yaml").write_text(yaml.safe_dump({**CONFIG, "output_dir": str(directory / "out")}), encoding="utf-8")
    run_pipeline(load_run_config(directory / "run.yaml"), workers=2, progress=False)
    return directory / "out"


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    with chromium() as context:
        yield context


def open_site(page: Page, site: Path, fragment: str = "") -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((site / "index.html").as_uri() + fragment)
    page.wait_for_selector("body[data-ready=true]")
    assert not errors


def test_reviewer_filters_inspects_flags_and_the_next_export_drops_the_task(
    output: Path, browser: BrowserContext, tmp_path: Path
) -> None:
    rejected, check, step = rejected_at_a_step(output)
    kept = kept_writing_task(output)
    trajectories = write_trajectories(output, "bank", [kept], tmp_path / "eval" / "trajectories.jsonl")
    site = build_site(output, tmp_path / "site", [trajectories.parent]).site
    page = browser.new_page()
    open_site(page, site)
    kept_before = page.locator("#tasks tbody tr").count()
    assert page.locator("#result-count").inner_text().startswith(f"{len(task_ids(output)):,}")

    # Filter by a reject reason: only rejected candidates with that first reason remain.
    reason = page.locator("#filter-reason")
    value = reason.locator("option", has_text=check).get_attribute("value")
    assert value is not None
    reason.select_option(value)
    rows = page.locator("#tasks tbody tr")
    expect(rows.first).to_be_visible()
    assert 0 < rows.count() < kept_before
    assert set(page.locator("#tasks tbody tr td:nth-child(7)").all_inner_texts()) == {check}
    assert f"reason={check}" in page.url

    # The rejected candidate: its failing step is highlighted with the reason.
    page.locator(f"tr[data-task='{rejected}'] a.task-link").click()
    page.wait_for_selector(f"#task-page[data-task='{rejected}']")
    failing = page.locator(".step.failing")
    assert failing.count() == 1
    assert failing.get_attribute("data-step") == str(step)
    assert check in failing.inner_text()
    assert check in page.locator("#reject-banner").inner_text()
    expect(page.locator(f"#checks li[data-check='{check}']")).to_have_class("failed")
    expect(page.locator("#checks li[data-check='duplicate']")).to_have_class("not-run")  # checked after any failure

    # A kept task: the state diff shows its rows before and after; its rollouts sit beside the gold trace.
    page.goto((site / "index.html").as_uri() + f"#task/{kept}")
    page.wait_for_selector(f"#task-page[data-task='{kept}']")
    diff = page.locator("#diff table.diff")
    assert diff.count() >= 1
    assert diff.locator("tr.before").count() >= 1
    assert diff.locator("tr.after td.changed").count() >= 1
    assert page.locator(".step.failing").count() == 0
    assert page.locator("#checks li.passed").count() == page.locator("#checks li").count() >= 9
    assert page.locator("#rollouts table.rollouts tbody tr").count() == 3
    page.locator("#rollouts tr", has_text="stops-early").first.click()
    assert (
        "diverges here" in page.locator("#rollout-detail").inner_text()
        or "stopped after" in page.locator("#rollout-detail").inner_text()
    )

    # Flag it with a note and export the labels as the page downloads them.
    page.fill("#review-note", "scenario asks for two things at once")
    page.click("#flag")
    expect(page.locator("#review-status")).to_contain_text("flagged")
    with page.expect_download() as download:
        page.click("#export-labels")
    labels = tmp_path / "labels.jsonl"
    download.value.save_as(labels)
    exported = [json.loads(line) for line in labels.read_text().splitlines()]
    assert [(label["task_id"], label["verdict"], label["note"]) for label in exported] == [
        (kept, "flagged", "scenario asks for two things at once")
    ]

    # Apply, export again, rebuild: the task left the kept set, is counted as flagged, and still exists as rejected.
    applied = apply_labels(labels, output)
    assert applied.counts == {"reviewed": 1, "approved": 0, "flagged": 1}
    assert [label.task_id for label in read_labels(output / LABELS_FILE)] == [kept]
    run_pipeline(load_run_config(output.parent / "run.yaml"), workers=2, progress=False)
    stats = json.loads((output / "stats.json").read_text())
    assert stats["domains"]["bank"]["funnel"]["reviewer_flagged"] == 1
    assert sum(stats["domains"]["bank"]["tasks"].values()) == CONFIG["tasks"]
    assert stats["review"] == {"reviewed": 1, "approved": 0, "flagged": 1}
    assert "1 flagged" in (output / "README.md").read_text()
    rebuilt = build_site(output, tmp_path / "site", [trajectories.parent])
    assert rebuilt.rebuilt == 1  # bank's shards changed
    site = rebuilt.site
    fresh = browser.new_page()
    open_site(fresh, site, "#tasks?verdict=kept&q=" + kept)
    assert fresh.locator("#tasks tbody tr").count() == 0
    open_site(fresh, site, "#tasks?reason=reviewer_flagged")
    assert fresh.locator("#tasks tbody tr td.id").all_inner_texts() == [kept]
    assert "0 / 1" in fresh.locator("#overview").inner_text()  # approved / flagged, as applied


def test_verdicts_given_on_a_served_site_are_appended_to_its_labels_file(
    output: Path, browser: BrowserContext, tmp_path: Path
) -> None:
    site = build_site(output, tmp_path / "site").site
    server = review_server(site, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page = browser.new_page()
        rejected = rejected_at_a_step(output)[0]
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html#task/{rejected}")
        page.wait_for_selector(f"#task-page[data-task='{rejected}']")
        page.fill("#review-note", "rightly rejected")
        with page.expect_response(lambda response: response.url.endswith("/labels")) as response:
            page.click("#approve")
        assert response.value.status == 204
    finally:
        server.shutdown()
        server.server_close()
    labels = read_labels(site / SERVED_LABELS)
    assert [(label.task_id, label.verdict, label.note) for label in labels] == [(rejected, "approved", "rightly rejected")]
