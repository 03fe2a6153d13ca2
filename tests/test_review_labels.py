"""Reviewer labels: the file format, `review apply`, and the export that drops flagged tasks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolscale.data.card import dataset_card
from toolscale.data.export import read_parquet_tasks
from toolscale.data.labels import Label, LabelError, flagged_notes, label_line, latest_verdicts, parse_labels, review_counts
from toolscale.pipeline.stages import export_stage, populate_stage, synthesize_stage
from toolscale.tasks.preference import SynthesisConfig

SPLITS = {"train": 1.0}


def test_a_tasks_latest_label_decides_and_counts_follow_it() -> None:
    labels = [
        Label(task_id="a", verdict="flagged", note="vague"),
        Label(task_id="b", verdict="approved"),
        Label(task_id="a", verdict="approved", note="fine after all"),
        Label(task_id="c", verdict="flagged", note="leaks an id"),
    ]
    assert latest_verdicts(labels)["a"].verdict == "approved"
    assert flagged_notes(labels) == {"c": "leaks an id"}
    assert review_counts(labels) == {"reviewed": 3, "approved": 2, "flagged": 1}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"task_id": "a", "verdict": "maybe"}', "labels.jsonl:2: verdict: Input should be 'approved' or 'flagged'"),
        ('{"verdict": "flagged"}', "labels.jsonl:2: task_id: Field required"),
        ("not json", "labels.jsonl:2: line: Invalid JSON"),
    ],
)
def test_a_bad_label_line_is_named_by_file_line_and_field(line: str, expected: str) -> None:
    text = '{"task_id": "a", "verdict": "approved"}\n' + line + "\n"
    with pytest.raises(LabelError) as error:
        parse_labels(text, "labels.jsonl")
    assert str(error.value).startswith(expected)


@pytest.fixture(scope="module")
def units(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    directory = tmp_path_factory.mktemp("labels")
    database = directory / "bank.sqlite"
    database.write_bytes(populate_stage("bank", 200, 5))
    unit = directory / "unit-0.parquet"
    unit.write_bytes(synthesize_stage("bank", str(database), "d", SynthesisConfig(), 5, 0, 30))
    return database, [str(unit)]


def test_export_drops_a_flagged_task_as_reviewer_flagged_and_takes_the_next(units: tuple[Path, list[str]]) -> None:
    database, paths = units
    kept = [task for task in read_parquet_tasks(Path(paths[0])) if task.verification.verdict == "kept"]
    before = export_stage("bank", str(database), "d", paths, 5, SPLITS, 100, 1.0)
    flagged = kept[1].id
    after = export_stage("bank", str(database), "d", paths, 5, SPLITS, 100, 1.0, {flagged: "two asks in one"})
    ids = [task.id for task in read_parquet_tasks(after.files["data/bank/train-00000-of-00001.parquet"])]
    assert ids == [task.id for task in kept[:6] if task.id != flagged]
    rejected = {task.id: task for task in read_parquet_tasks(after.files["rejected/bank-00000-of-00001.parquet"])}
    reason = rejected[flagged].verification.reasons[0]
    assert (reason.check, reason.detail) == ("reviewer_flagged", "flagged by a reviewer: two asks in one")
    assert after.stats["funnel"]["reviewer_flagged"] == 1
    assert after.stats["funnel"]["kept"] == before.stats["funnel"]["kept"] == 5
    again = export_stage("bank", str(database), "d", paths, 5, SPLITS, 100, 1.0, {flagged: "two asks in one"})
    assert again.files == after.files  # deterministic: same labels, same bytes


def test_card_counts_reviewed_approved_and_flagged() -> None:
    funnel = {"generated": 3, "kept": 2, "reviewer_flagged": 1}
    card = dataset_card(
        "r",
        {"bank": {"train": 2}},
        {"bank": 1},
        {"bank": funnel},
        list(funnel),
        "c" * 64,
        figures={},
        review={"reviewed": 4, "approved": 3, "flagged": 1},
    )
    assert "Reviewers labelled 4 tasks: 3 approved, 1 flagged." in card
    assert "## Review" not in dataset_card("r", {"bank": {"train": 2}}, {"bank": 1}, {"bank": funnel}, list(funnel), "c" * 64, {})


def test_labels_file_lines_are_sorted_json() -> None:
    line = label_line(Label(task_id="bank-0-0000001", verdict="flagged", note="é"))
    assert json.loads(line) == {"at": "", "note": "é", "task_id": "bank-0-0000001", "verdict": "flagged"}
    assert line.endswith("\n")
