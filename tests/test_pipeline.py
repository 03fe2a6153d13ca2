"""The Ray pipeline end to end on a small config: shards, card, stats, resume, determinism, readers."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml

from toolscale.data import TASK_SCHEMA, load_tasks, row_to_task
from toolscale.data.export import split_of
from toolscale.domain.loader import domain_dir, load_domain
from toolscale.engine.database import DomainDatabase
from toolscale.pipeline.config import ConfigError, load_run_config
from toolscale.pipeline.manifest import MANIFEST_FILE
from toolscale.pipeline.ownership import OutputFolderError
from toolscale.pipeline.run import PipelineError, RunSummary, run_pipeline
from toolscale.tasks.grammar import GRAMMAR_FILE, load_grammar
from toolscale.tasks.preference import SynthesisConfig
from toolscale.tasks.run import synthesize_domain

SMALL = {
    "name": "small",
    "seed": 6,
    "domains": [{"name": "bank", "size": 300, "tasks": 45}, {"name": "weather", "size": 150}],
    "tasks": 30,
    "unit_candidates": 10,
    "shard_size": 16,
    "splits": {"train": 0.6, "validation": 0.2, "test": 0.2},
}
DATASET_PARTS = ("README.md", "stats.json", "stats", "data", "rejected")


def write_config(directory: Path, output: Path, **changes: object) -> Path:
    path = directory / "run.yaml"
    path.write_text(yaml.safe_dump({**SMALL, "output_dir": str(output), **changes}), encoding="utf-8")
    return path


def dataset_files(output: Path) -> dict[str, bytes]:
    """Every published file of an output directory, by relative path."""
    files = {}
    for part in DATASET_PARTS:
        root = output / part
        for path in [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()):
            files[str(path.relative_to(output))] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunSummary]:
    directory = tmp_path_factory.mktemp("pipeline")
    config = load_run_config(write_config(directory, directory / "out"))
    return config.output_dir, run_pipeline(config, workers=2, progress=False)


def test_run_exports_every_domain_with_card_stats_and_shards(finished: tuple[Path, RunSummary]) -> None:
    output, summary = finished
    assert summary.tasks == {"bank": 45, "weather": 30}
    assert not summary.failed
    stats = json.loads((output / "stats.json").read_text())
    train = stats["domains"]["bank"]["tasks"]["train"]
    shards = math.ceil(train / 16)  # SMALL["shard_size"]
    expected = [f"train-{number:05d}-of-{shards:05d}.parquet" for number in range(shards)]
    assert sorted(path.name for path in (output / "data" / "bank").glob("train-*")) == expected
    assert [pq.read_metadata(output / "data" / "bank" / name).num_rows for name in expected][:-1] == [16] * (shards - 1)
    assert stats["tasks"] == 75
    bank = stats["domains"]["bank"]
    assert bank["funnel"]["kept"] == 45
    dropped = sum(value for key, value in bank["funnel"].items() if key not in ("generated", "kept"))
    assert bank["funnel"]["generated"] == dropped + 45
    assert sum(bank["tasks"].values()) == 45
    assert set(bank) >= {"difficulty", "tool_usage", "coverage", "multi_write_share"}
    assert (output / "stats" / "funnel.png").read_bytes().startswith(b"\x89PNG")
    card = (output / "README.md").read_text()
    header = yaml.safe_load(card.split("---\n")[1])
    names = [config["config_name"] for config in header["configs"]]
    assert names[:3] == ["all", "bank", "weather"]


def test_kept_tasks_are_those_a_single_sequential_synthesis_keeps(finished: tuple[Path, RunSummary]) -> None:
    """Units are verified apart and deduplicated at export: the result must equal one sequential pass."""
    output, _ = finished
    spec = load_domain("bank")
    database = DomainDatabase.load(spec, output / "databases" / "bank.sqlite")
    grammar = load_grammar(domain_dir("bank") / GRAMMAR_FILE, spec)
    sequential = synthesize_domain(
        database, grammar, SynthesisConfig(), seed=6, indices=range(200), kept_target=45, max_near_duplicate_share=0.2
    )
    shards = sorted((output / "data" / "bank").glob("*.parquet"))
    exported = [row_to_task(row) for path in shards for row in pq.read_table(path).to_pylist()]
    assert sorted(task.id for task in exported) == sorted(task.id for task in sequential.kept)
    by_id = {task.id: task for task in sequential.kept}
    assert all(task == by_id[task.id] for task in exported)


def test_readers_see_the_declared_schema(finished: tuple[Path, RunSummary]) -> None:
    output, _ = finished
    shard = sorted((output / "data" / "bank").glob("train-*.parquet"))[0]
    assert pq.read_schema(shard).remove_metadata() == TASK_SCHEMA
    frame = pl.read_parquet(output / "data" / "*" / "*.parquet")
    assert frame.height == 75
    assert frame.schema["preference"] == pl.Struct(
        {"accuracy": pl.Float64, "cost": pl.Float64, "latency": pl.Float64,
         "aliases": pl.List(pl.Struct({"alias": pl.String, "weight": pl.Float64})), "statement": pl.String}
    )  # fmt: skip
    bank = load_tasks(output, "bank", "train")
    assert isinstance(bank, datasets.Dataset)
    assert bank.num_rows == sum(pq.read_metadata(path).num_rows for path in (output / "data" / "bank").glob("train-*.parquet"))
    task = row_to_task(bank[0])
    assert task.domain == "bank"
    assert json.loads(pq.read_table(shard).column("evaluation_criteria")[0].as_py()["actions"][0]["arguments"])  # JSON text
    streamed = [row["id"] for row in load_tasks(output, ["bank", "weather"], "validation", streaming=True)]
    every_row = [row["id"] for domain in ("bank", "weather") for row in load_tasks(output, domain, "validation")]
    assert sorted(streamed) == sorted(every_row)  # every row of both domains, once
    every = load_tasks(output, split="test")
    assert every.num_rows == sum(1 for row in frame.iter_rows(named=True) if split_of(row["id"], SMALL["splits"]) == "test")  # type: ignore[arg-type]
    # Rejected candidates are a config of their own exactly when the run rejected any (a small run may not);
    # this run (seed 6) rejects some in both domains, so the config is there to be read.
    stats = json.loads((output / "stats.json").read_text(encoding="utf-8"))
    rejected_count = sum(domain["rejected"] for domain in stats["domains"].values())
    assert rejected_count > 0
    card = yaml.safe_load((output / "README.md").read_text(encoding="utf-8").split("---\n")[1])
    assert "rejected" in [config["config_name"] for config in card["configs"]]
    rejected = load_tasks(output, "rejected")
    assert rejected.num_rows == rejected_count
    assert all(row["verification"]["verdict"] == "rejected" and row["verification"]["reasons"] for row in rejected)


def test_rerun_of_a_finished_run_does_no_work(finished: tuple[Path, RunSummary]) -> None:
    output, _ = finished
    before = {path: path.stat().st_mtime_ns for path in output.rglob("*") if path.is_file()}
    summary = run_pipeline(load_run_config(output.parent / "run.yaml"), progress=False)
    assert not summary.did_work
    assert {path: path.stat().st_mtime_ns for path in output.rglob("*") if path.is_file()} == before


def test_a_run_killed_midway_resumes_to_the_same_bytes(finished: tuple[Path, RunSummary], tmp_path: Path) -> None:
    reference, _ = finished
    output = tmp_path / "out"
    config = write_config(tmp_path, output)
    command = [sys.executable, "-m", "toolscale.cli", "run", str(config), "--workers", "1", "--no-progress"]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    manifest = output / MANIFEST_FILE
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill as soon as some, not all, units are recorded
        units = json.loads(manifest.read_text())["domains"] if manifest.exists() else {}
        if sum(len(state["units"]) for state in units.values()) >= 3:
            break
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (output / "README.md").exists()  # it died before exporting
    resumed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert "0 databases" in resumed.stdout  # the databases were finished before the kill and kept
    assert dataset_files(output) == dataset_files(reference)


def test_grown_run_keeps_every_task_in_its_split(finished: tuple[Path, RunSummary], tmp_path: Path) -> None:
    small_output, _ = finished
    splits = SMALL["splits"]
    small = pl.read_parquet(small_output / "data" / "weather" / "*.parquet", include_file_paths="file")
    grown = run_pipeline(load_run_config(write_config(tmp_path, tmp_path / "out", tasks=60)), workers=2, progress=False)
    assert grown.tasks["weather"] == 60
    for row in small.iter_rows(named=True):
        split = Path(row["file"]).name.split("-")[0]
        assert split == split_of(row["id"], splits)  # type: ignore[arg-type]
        assert list((tmp_path / "out" / "data" / "weather").glob(f"{split}-*.parquet"))
    bigger = pl.read_parquet(tmp_path / "out" / "data" / "weather" / "*.parquet", include_file_paths="file")
    placed = {row["id"]: Path(row["file"]).name.split("-")[0] for row in bigger.iter_rows(named=True)}
    assert all(placed[row["id"]] == Path(row["file"]).name.split("-")[0] for row in small.iter_rows(named=True))
    # Same folder name as the smaller run's: `datasets` must not serve that run's cached rows.
    assert sum(load_tasks(tmp_path / "out", "weather", split).num_rows for split in splits) == 60  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"domains": ["bank", "atlantis"]}, "domains[1].name: Value error, unknown domain 'atlantis'"),
        ({"splits": {"train": 0.5, "test": 0.2}}, "(top level): Value error, splits: shares must sum to 1"),
        ({"unit_candidates": 0}, "unit_candidates: Input should be greater than or equal to 1"),
        ({"synthesis": {"writes": {"9": 1.0}}}, "synthesis.writes.9.[key]"),
        ({"shards": 3}, "shards: Extra inputs are not permitted"),
        ({"seed": True}, "seed: Input should be a valid integer"),
        ({"seed": 1e26}, "seed: Input should be a valid integer"),
    ],
)
def test_bad_config_names_file_and_key_and_writes_nothing(tmp_path: Path, change: dict[str, object], expected: str) -> None:
    output = tmp_path / "out"
    config = write_config(tmp_path, output, **change)
    with pytest.raises(ConfigError) as error:
        load_run_config(config)
    assert str(error.value).startswith(f"{config}: ")
    assert expected in str(error.value)
    command = [sys.executable, "-m", "toolscale.cli", "run", str(config)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert expected in result.stderr
    assert not output.exists()


def test_unreadable_config_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=f"{missing}: cannot read"):
        load_run_config(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match=f"{broken}: line 2, column 1: invalid YAML"):
        load_run_config(broken)


def test_split_depends_only_on_the_task_id() -> None:
    splits = {"train": 0.9, "validation": 0.05, "test": 0.05}
    ids = [f"bank-0-{index:07d}" for index in range(4000)]
    assigned = [split_of(task_id, splits) for task_id in ids]
    reordered = {"test": 0.05, "train": 0.9, "validation": 0.05}  # a config may list them in any order
    assert assigned == [split_of(task_id, reordered) for task_id in ids]
    shares = {split: assigned.count(split) / len(ids) for split in splits}
    assert shares["train"] == pytest.approx(0.9, abs=0.02)
    assert shares["test"] == pytest.approx(0.05, abs=0.015)


def _copy_of(finished: tuple[Path, RunSummary], tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the finished run's output folder, and a config that points at it."""
    reference, _ = finished
    output = tmp_path / "out"
    shutil.copytree(reference, output)
    return output, write_config(tmp_path, output)


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_complete_means_verified_a_damaged_database_is_rebuilt(
    finished: tuple[Path, RunSummary], tmp_path: Path, damage: str
) -> None:
    output, config = _copy_of(finished, tmp_path)
    database = output / "databases" / "bank.sqlite"
    intact_bytes = database.read_bytes()
    if damage == "truncate":
        database.write_bytes(intact_bytes[: len(intact_bytes) // 2])
    else:
        database.unlink()
    summary = run_pipeline(load_run_config(config), workers=2, progress=False)
    assert (summary.did_work, summary.databases_built) == (True, 1)
    assert database.read_bytes() == intact_bytes
    assert dataset_files(output) == dataset_files(finished[0])


def test_a_damaged_card_or_stats_file_is_written_again(finished: tuple[Path, RunSummary], tmp_path: Path) -> None:
    output, config = _copy_of(finished, tmp_path)
    (output / "README.md").unlink()
    (output / "stats.json").write_text("{}", encoding="utf-8")
    (output / "stats" / "funnel.png").write_bytes(b"")
    run_pipeline(load_run_config(config), progress=False)
    assert dataset_files(output) == dataset_files(finished[0])


@pytest.mark.parametrize("planted", ["data/bank/train-00000-of-00009.parquet", "stats/notes.json"])
def test_a_stray_published_file_is_reported_and_kept(finished: tuple[Path, RunSummary], tmp_path: Path, planted: str) -> None:
    output, config = _copy_of(finished, tmp_path)
    stray = output / planted
    stray.write_bytes(next((output / "data" / "bank").glob("train-*.parquet")).read_bytes())
    with pytest.raises(PipelineError, match=rf"{planted}: not written by this pipeline"):
        run_pipeline(load_run_config(config), progress=False)
    assert stray.exists()  # reported, not deleted: it is not the pipeline's to delete


def test_only_files_the_pipeline_wrote_are_deleted(finished: tuple[Path, RunSummary], tmp_path: Path) -> None:
    output, config = _copy_of(finished, tmp_path)
    theirs = [output / "notes" / "deep" / ".draft.tmp", output / "work" / "weather" / "mine.txt", output / "stats" / ".draft.tmp"]
    for path in theirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("not the pipeline's")
    ours = output / "stats" / ".funnel.png.a1b2c3d4.tmp"  # what an interrupted write_atomically leaves
    ours.write_bytes(b"half a png")
    # Another configuration of weather: its units are discarded and made again.
    manifest = json.loads((output / MANIFEST_FILE).read_text())
    manifest["domains"]["weather"]["fingerprint"] = "of another configuration"
    (output / MANIFEST_FILE).write_text(json.dumps(manifest))
    summary = run_pipeline(load_run_config(config), workers=2, progress=False)
    assert summary.units_run > 0
    assert all(path.read_text() == "not the pipeline's" for path in theirs)
    assert not ours.exists()
    assert dataset_files(output) == dataset_files(finished[0]) | {"stats/.draft.tmp": b"not the pipeline's"}


def test_a_folder_of_other_files_is_refused(tmp_path: Path) -> None:
    output = tmp_path / "out"
    output.mkdir()
    (output / "thesis.tex").write_text("mine")
    with pytest.raises(OutputFolderError, match=r"out: holds files but no manifest.json"):
        run_pipeline(load_run_config(write_config(tmp_path, output)), progress=False)
    assert sorted(path.name for path in output.iterdir()) == ["thesis.tex"]
