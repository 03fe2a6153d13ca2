"""The pipeline's stages called directly, without Ray: they are plain functions of their inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolscale.data.export import read_parquet_tasks
from toolscale.pipeline.stages import export_stage, populate_stage, synthesize_stage
from toolscale.tasks.preference import SynthesisConfig

SPLITS = {"train": 0.8, "validation": 0.1, "test": 0.1}


@pytest.fixture(scope="module")
def units(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    directory = tmp_path_factory.mktemp("stages")
    database = directory / "bank.sqlite"
    database.write_bytes(populate_stage("bank", 200, 5))
    paths = []
    for unit in range(2):
        path = directory / f"unit-{unit}.parquet"
        path.write_bytes(synthesize_stage("bank", str(database), "d", SynthesisConfig(), 5, unit * 12, 12))
        paths.append(path)
    return database, paths


def test_a_unit_holds_every_verified_candidate_of_its_range_in_order(units: tuple[Path, list[Path]]) -> None:
    database, paths = units
    tasks = read_parquet_tasks(paths[1])
    indices = [task.provenance.index for task in tasks]
    assert indices == sorted(indices)
    assert set(indices) <= set(range(12, 24))
    assert len(indices) >= 10  # a candidate only lacks a record when the caller had nothing to do
    again = synthesize_stage("bank", str(database), "d", SynthesisConfig(), 5, 12, 12)
    assert again == paths[1].read_bytes()  # pure: same inputs, same bytes


def test_export_takes_the_first_kept_tasks_and_counts_the_funnel_up_to_the_last(units: tuple[Path, list[Path]]) -> None:
    database, paths = units
    candidates = [task for path in paths for task in read_parquet_tasks(path)]
    kept = [task for task in candidates if task.verification.verdict == "kept"]
    result = export_stage("bank", str(database), "d", [str(path) for path in paths], 5, SPLITS, 100, 1.0)
    assert result.missing == 0
    assert sum(result.counts.values()) == 5
    assert result.stats["funnel"]["kept"] == 5
    assert result.stats["funnel"]["generated"] == kept[4].provenance.index + 1
    assert {name.split("/")[0] for name in result.files} <= {"data", "rejected"}


def test_export_reports_what_is_missing_and_exports_nothing(units: tuple[Path, list[Path]]) -> None:
    database, paths = units
    result = export_stage("bank", str(database), "d", [str(paths[0])], 100, SPLITS, 100, 1.0)
    assert result.files == {}
    kept = sum(task.verification.verdict == "kept" for task in read_parquet_tasks(paths[0]))
    assert result.missing == 100 - kept


def test_writes_kept_in_an_earlier_unit_are_rejected_as_duplicates_naming_the_task(units: tuple[Path, list[Path]]) -> None:
    database, paths = units
    once = [task for task in read_parquet_tasks(paths[0]) if task.verification.verdict == "kept"]
    result = export_stage("bank", str(database), "d", [str(paths[0]), str(paths[0])], len(once) + 1, SPLITS, 100, 1.0)
    assert result.missing == 1  # the second copy adds nothing new
    files = export_stage(
        "bank", str(database), "d", [str(paths[0]), str(paths[0]), str(paths[1])], len(once) + 1, SPLITS, 100, 1.0
    )
    rejected = [task for name, data in files.files.items() if name.startswith("rejected/") for task in read_parquet_tasks(data)]
    duplicates = [task for task in rejected if task.verification.reasons[0].check == "duplicate"]
    assert len(duplicates) >= len(once)
    assert duplicates[0].verification.reasons[0].detail == f"the same writes as task {once[0].id}, verified in an earlier unit"
