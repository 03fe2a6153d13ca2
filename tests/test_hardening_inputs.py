"""Hostile or careless input files: each is refused with one line naming the file, the place and the
reason, before anything is written; nothing is a traceback."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from toolscale import cli
from toolscale.atomic import write_atomically
from toolscale.domain.loader import load_spec
from toolscale.pipeline.config import ConfigError, load_run_config
from toolscale.pipeline.manifest import ManifestError, load_manifest
from toolscale.pipeline.ownership import OutputFolderError, check_output_folder
from toolscale.spec.errors import SpecError
from toolscale.tau2.export import read_exportable
from toolscale.tau2.tasks import TaskFileError, read_tau2_tasks
from toolscale.train.config import DataConfig
from toolscale.train.source import TaskSourceError, check_source
from toolscale.yamlfile import load_yaml, read_yaml_text

from .conftest import TINY_SPEC

# Nine levels of nine aliases: about 400 bytes that expand to 9**9 (387 million) strings.
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "\n".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(8)
)


@pytest.mark.parametrize(
    ("content", "location", "reason"),
    [
        (BOMB.encode(), "line 6, column 11", "more than 200,000 values with aliases expanded"),
        (b"tables: " + b"[" * 5000 + b"]" * 5000, "line 1, column 72", "nested deeper than 64 levels"),
        (b"a: &x [1, *x]\n", "line 1, column 11", "an alias refers to a node that contains it"),
        (b"name: tiny\ndescription: caf\xe9\n", "(file)", "not UTF-8 text (byte 27 is 0xe9)"),
        (b"#" * (4 << 20) + b"\n", "(file)", "larger than 4 MiB"),
    ],
    ids=["alias-bomb", "deep-nesting", "recursive-alias", "not-utf8", "too-large"],
)
def test_hostile_spec_files_are_named_with_the_reason(tmp_path: Path, content: bytes, location: str, reason: str) -> None:
    path = tmp_path / "domain.yaml"
    path.write_bytes(content)
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    (issue,) = raised.value.issues
    assert (issue.file, issue.location) == (path, location)
    assert reason in issue.reason


def test_the_limits_read_every_shipped_yaml_file_as_pyyaml_does() -> None:
    root = TINY_SPEC.parents[3]
    files = [*root.glob("domains/**/*.yaml"), *root.glob("pipelines/*.yaml"), *root.glob("configs/train/*.yaml"), TINY_SPEC]
    assert len(files) > 30
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert load_yaml(read_yaml_text(path)) == yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)), path


def _run_config(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "run.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("name: x\ndomains: [bank]\nseed: true\n", "seed: Input should be a valid integer"),
        ("name: x\ndomains: [bank]\nseed: '12'\n", "seed: Input should be a valid integer"),
        ("name: x\ndomains: [bank]\nseed: 1e26\n", "seed: Input should be a valid integer"),
        ("name: x\ndomains: [bank]\nseed: 4294967296\n", "seed: Input should be less than or equal to 4294967295"),
        ("name: x\ndomains: [bank]\nseed: -1\n", "seed: Input should be greater than or equal to 0"),
        ("name: x\ndomains: [{name: bank, size: 1e9}]\n", "domains[0].size: Input should be a valid integer"),
        (
            "name: x\ndomains: [{name: bank, size: 100000000}]\n",
            "domains[0].size: Input should be less than or equal to 10000000",
        ),
        ("name: x\ndomains: [bank]\ntasks: true\n", "tasks: Input should be a valid integer"),
        ("name: x\ndomains: [bank]\nmax_candidates_factor: .nan\n", "max_candidates_factor: Input should be a finite number"),
        ("name: x\ndomains: [bank]\nsplits: {train: true}\n", "splits.train: Input should be a valid number"),
        (b"name: caf\xe9\ndomains: [bank]\n", "not UTF-8 text (byte 9 is 0xe9)"),
        (BOMB, "more than 200,000 values with aliases expanded"),
    ],
)
def test_run_configs_are_strict_and_bounded(tmp_path: Path, text: str | bytes, reason: str) -> None:
    path = _run_config(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_run_config(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert reason in str(raised.value)


def test_a_garbage_manifest_is_named(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ManifestError, match=r"manifest.json: not a run manifest \(byte 0 is not UTF-8\)"):
        load_manifest(path)


def test_an_output_folder_of_someone_else_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputFolderError, match="may not be the current folder or one above it"):
        check_output_folder(Path("."))
    with pytest.raises(OutputFolderError, match="may not be the current folder or one above it"):
        check_output_folder(Path(".."))
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "notes.txt").write_text("mine")
    with pytest.raises(OutputFolderError, match=r"theirs: holds files but no manifest\.json"):
        check_output_folder(Path("theirs"))
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(OutputFolderError, match="a-file: the output folder is a file"):
        check_output_folder(Path("a-file"))
    check_output_folder(Path("new"))  # a new folder, or an empty one, is fine
    (tmp_path / "empty").mkdir()
    check_output_folder(Path("empty"))


def test_the_cli_refuses_the_current_folder_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    config = _run_config(tmp_path, "name: x\ndomains: [bank]\ntasks: 5\n")
    command = [sys.executable, "-m", "toolscale.cli", "run", str(config), "--output-dir", "."]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == ".: the output folder may not be the current folder or one above it; name one of its own\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run.yaml"]


def test_a_failed_write_names_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(*_: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    target = tmp_path / "out" / "stats.json"
    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left on device") as raised:
        write_atomically(target, "{}")
    assert raised.value.filename == str(target)
    assert list(target.parent.iterdir()) == []  # its temporary file is gone too


def test_the_cli_prints_a_failed_write_as_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def disk_full(*_: Any, **__: Any) -> None:
        raise OSError(errno.ENOSPC, "cannot write: No space left on device", str(tmp_path / "out" / "manifest.json"))

    monkeypatch.setattr("toolscale.commands.run.run_pipeline", disk_full)
    monkeypatch.setattr(sys, "argv", ["toolscale", "run", "pipelines/smoke.yaml", "--output-dir", str(tmp_path / "out")])
    with pytest.raises(SystemExit) as raised:
        cli.app()
    assert raised.value.code == 1
    assert capsys.readouterr().err == f"{tmp_path / 'out' / 'manifest.json'}: cannot write: No space left on device\n"


def _task(task_id: str) -> dict[str, Any]:
    return {"id": task_id, "user_scenario": {"instructions": "x"}, "evaluation_criteria": {"actions": []}}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nests too deep to read"),
        (("[" * 70 + "1" + "]" * 70).encode(), "nests deeper than 64 levels"),
        (b'[{"id": "caf\xe9"}]', "not UTF-8 text (byte 12)"),
        (json.dumps([_task("\udfff")]).encode(), "0/id: is not valid Unicode (lone surrogate"),
        (json.dumps([_task("a"), _task("b"), _task("a")]).encode(), "task id(s) 'a' appear more than once"),
        (b'[{"id": NaN}]', "0/id: is nan, which JSON does not allow"),
    ],
    ids=["too-deep", "deep", "not-utf8", "surrogate-id", "duplicate-ids", "nan"],
)
def test_tau2_task_files_are_refused_with_the_reason(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "tasks.json"
    path.write_bytes(content)
    with pytest.raises(TaskFileError) as raised:
        read_tau2_tasks(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert reason in str(raised.value)


def test_task_records_with_repeated_ids_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    record = {**_task("r1"), "domain": "retail"}
    path.write_text(json.dumps(record) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(TaskFileError, match="task record id\\(s\\) 'r1' appear more than once"):
        read_exportable(path)


def _output_folder(tmp_path: Path, shard: bytes | None = None) -> Path:
    folder = tmp_path / "out"
    (folder / "data" / "bank").mkdir(parents=True)
    shard_path = folder / "data" / "bank" / "train-00000-of-00001.parquet"
    if shard is None:
        pq.write_table(pa.table({"id": ["bank-1"]}), shard_path)
    else:
        shard_path.write_bytes(shard)
    return folder


def test_the_trainer_names_a_bad_task_source_before_training(tmp_path: Path) -> None:
    with pytest.raises(TaskSourceError, match=f"{tmp_path / 'missing'}: no such folder"):
        check_source(DataConfig(source=str(tmp_path / "missing")))
    good = _output_folder(tmp_path)
    with pytest.raises(TaskSourceError, match="no domain\\(s\\) atlantis in data/; it has bank"):
        check_source(DataConfig(source=str(good), domains=["atlantis"]))
    with pytest.raises(TaskSourceError, match="no 'test' shards"):
        check_source(DataConfig(source=str(good), split="test"))
    check_source(DataConfig(source=str(good), domains=["bank"]))  # a readable shard passes
    check_source(DataConfig(source="org/name"))  # a Hub id is checked by the Hub
    corrupt = _output_folder(tmp_path / "corrupt", shard=b"PAR1 not really")
    with pytest.raises(TaskSourceError, match=r"train-00000-of-00001\.parquet: not a readable Parquet file"):
        check_source(DataConfig(source=str(corrupt)))
    jsonl = tmp_path / "kept.jsonl"
    jsonl.write_text('{"id": 3}\n')
    with pytest.raises(TaskSourceError, match=r"kept\.jsonl: line 1: "):
        check_source(DataConfig(source=str(jsonl)))


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"id": "t", "actions": [{"name": "get_user_details", "arguments": {"user_id": "\\udfff"}}]}', "lone surrogate"),
        ('{"id": "t", "actions": [{"name": "get_user_details", "arguments": {"user_id": NaN}}]}', "which JSON does not allow"),
        ("[" * 100_000, "nests too deep to read"),
    ],
    ids=["surrogate", "nan", "deep"],
)
def test_replay_names_input_it_cannot_replay(tmp_path: Path, line: str, reason: str) -> None:
    calls, out = tmp_path / "calls.jsonl", tmp_path / "out.jsonl"
    calls.write_text(line + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "toolscale.cli", "tau2", "replay", "--calls", str(calls), "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(f"{calls}: line 1: ")
    assert reason in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not out.exists()
