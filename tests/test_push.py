"""`toolscale push`: what is uploaded (card, stats, shards; never databases or work files) and refusals."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from huggingface_hub import HfApi
from huggingface_hub.utils import filter_repo_objects
from typer.testing import CliRunner

from toolscale.cli import app
from toolscale.data.hub import PushError, push_dataset


class RecordingHub(HfApi):
    """The Hub cannot be reached from here: this records the calls push makes and applies the patterns."""

    def __init__(self) -> None:
        super().__init__(token=False)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def create_repo(self, repo_id: str, **options: Any) -> Any:  # type: ignore[override]
        self.calls.append(("create_repo", {"repo_id": repo_id, **options}))

    def upload_folder(self, **options: Any) -> Any:  # type: ignore[override]
        self.calls.append(("upload_folder", options))
        return SimpleNamespace(commit_url=f"https://huggingface.co/datasets/{options['repo_id']}/commit/abc")


def output_dir(root: Path) -> Path:
    for relative in ["README.md", "stats.json", "stats/bank.json", "stats/funnel.png", "data/bank/train-00000-of-00001.parquet",
                     "rejected/bank-00000-of-00001.parquet", "databases/bank.sqlite", "work/bank/unit-00000.parquet",
                     "manifest.json"]:  # fmt: skip
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(b"x")
    return root


def test_push_uploads_the_dataset_files_only(tmp_path: Path) -> None:
    hub = RecordingHub()
    url = push_dataset(output_dir(tmp_path), "org/toolscale", private=True, api=hub)
    assert url.endswith("/commit/abc")
    (create, created), (upload, uploaded) = hub.calls
    assert (create, created["repo_type"], created["private"], created["exist_ok"]) == ("create_repo", "dataset", True, True)
    assert upload == "upload_folder"
    assert uploaded["repo_type"] == "dataset"
    assert uploaded["folder_path"] == tmp_path
    files = sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file())
    published = sorted(filter_repo_objects(files, allow_patterns=uploaded["allow_patterns"]))
    assert published == [
        "README.md",
        "data/bank/train-00000-of-00001.parquet",
        "rejected/bank-00000-of-00001.parquet",
        "stats.json",
        "stats/bank.json",
        "stats/funnel.png",
    ]
    assert uploaded["delete_patterns"] == uploaded["allow_patterns"]  # shards gone locally go from the repo too


def test_push_refuses_a_folder_that_is_not_a_pipeline_output(tmp_path: Path) -> None:
    with pytest.raises(PushError, match=f"{tmp_path}: not a pipeline output"):
        push_dataset(tmp_path, "org/toolscale", api=RecordingHub())
    result = CliRunner().invoke(app, ["push", str(tmp_path), "--repo", "org/toolscale"])
    assert result.exit_code == 1
    assert "not a pipeline output" in result.output
