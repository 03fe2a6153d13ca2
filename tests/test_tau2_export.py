"""τ²-bench interop against upstream's real Task shape, both ways.

tests/data/tau2/task.schema.json is the JSON Schema of upstream's own pydantic `Task` model (tau2-bench at
commit a2c0247, MIT; licence beside it), and upstream_task_shapes.json holds upstream tasks chosen so that
together they use every field their files use (airline, telecom, banking_knowledge, mock). Every task
ToolScale exports, from synthesis JSONL and from pipeline shards, must validate against that schema.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from typer.testing import CliRunner

from toolscale.cli import app
from toolscale.data.schema import row_to_task, task_to_row
from toolscale.domain.loader import domain_dir, load_domain
from toolscale.engine.database import DomainDatabase
from toolscale.pipeline.config import load_run_config
from toolscale.pipeline.run import run_pipeline
from toolscale.populate.stage import populate
from toolscale.tasks.grammar import GRAMMAR_FILE, load_grammar
from toolscale.tasks.preference import SynthesisConfig
from toolscale.tasks.record import ToolScaleTask
from toolscale.tasks.run import synthesize_domain
from toolscale.tasks.upstream import Tau2Task

DATA = Path(__file__).parent / "data" / "tau2"
UPSTREAM_SHAPES: dict[str, list[dict[str, Any]]] = json.loads((DATA / "upstream_task_shapes.json").read_text(encoding="utf-8"))


@cache
def upstream_task_schema() -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(json.loads((DATA / "task.schema.json").read_text(encoding="utf-8")))


def upstream_problems(task: dict[str, Any]) -> list[str]:
    return [f"{error.instance_path}: {error.message}" for error in upstream_task_schema().iter_errors(task)]


def nulls(value: Any, path: str = "") -> list[str]:
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in nulls(item, f"{path}/{key}")]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in nulls(item, f"{path}[{index}]")]
    return []


@cache
def synthesized() -> list[ToolScaleTask]:
    bank = populate(load_domain("bank"), 150, seed=0)
    assert isinstance(bank, DomainDatabase)
    result = synthesize_domain(
        bank, load_grammar(domain_dir("bank") / GRAMMAR_FILE, load_domain("bank")), SynthesisConfig(), seed=5, indices=range(60)
    )
    return [*result.kept, *result.rejected]


def test_the_upstream_schema_refuses_what_upstream_refuses() -> None:
    """The test's yardstick can fail: a null requestor (what every exported action carried) is refused."""
    task = json.loads(json.dumps(UPSTREAM_SHAPES["airline"][0]))
    task["evaluation_criteria"]["actions"][0]["requestor"] = None
    assert upstream_problems(task)


@pytest.mark.parametrize(
    ("domain", "index"), [(domain, index) for domain, tasks in UPSTREAM_SHAPES.items() for index in range(len(tasks))]
)
def test_every_upstream_task_shape_imports_and_round_trips(domain: str, index: int) -> None:
    task = UPSTREAM_SHAPES[domain][index]
    assert not upstream_problems(task)
    assert Tau2Task.model_validate(task).to_upstream() == task  # unknown fields (annotations) kept, nulls kept


def test_synthesized_tasks_export_to_upstream_tasks() -> None:
    for record in synthesized():
        upstream = record.to_upstream()
        assert not upstream_problems(upstream), record.id
        assert not nulls(upstream), record.id
        assert set(upstream) <= set(Tau2Task.model_fields)
        # Through a Parquet row and back (which sets every field, nulls included), the export is the same.
        assert row_to_task(task_to_row(record)).to_upstream() == upstream


def test_cli_exports_synth_output_and_pipeline_shards(tmp_path: Path) -> None:
    runner = CliRunner()
    synth = tmp_path / "synth"
    result = runner.invoke(app, ["synth", "--domain", "weather", "--count", "12", "--seed", "1", "--out", str(synth)])
    assert result.exit_code == 0, result.output
    config = {"name": "t", "output_dir": str(tmp_path / "run"), "seed": 0, "domains": [{"name": "bank", "size": 200}], "tasks": 8}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump({**config, "unit_candidates": 10}), encoding="utf-8")
    run_pipeline(load_run_config(tmp_path / "run.yaml"), workers=1, progress=False)
    for source, expected in ((synth / "kept.jsonl", 12), (tmp_path / "run", 8)):
        out = tmp_path / f"{source.stem}-tasks.json"
        result = runner.invoke(app, ["tau2", "export", str(source), "--out", str(out)])
        assert result.exit_code == 0, result.output
        tasks = json.loads(out.read_text(encoding="utf-8"))
        assert len(tasks) == expected
        assert all(not upstream_problems(task) for task in tasks)


def test_export_of_a_folder_without_shards_is_one_clear_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["tau2", "export", str(tmp_path), "--out", str(tmp_path / "x.json")])
    assert result.exit_code == 1
    assert result.output.strip() == f"{tmp_path}: no Parquet shards in this folder"
