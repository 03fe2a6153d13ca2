"""Task records: tau2-compatible, schema-valid, round-tripping, reproducible; the synth command's files."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import jsonschema_rs
from typer.testing import CliRunner

from tests.small_bank import bank, grammar
from toolscale.cli import app
from toolscale.schemas import SCHEMAS_DIR
from toolscale.tasks.preference import SynthesisConfig
from toolscale.tasks.record import ToolScaleTask
from toolscale.tasks.run import FUNNEL_STAGES, SynthesisResult, synthesize_domain
from toolscale.tasks.upstream import Tau2Task


@cache
def result() -> SynthesisResult:
    # Repeating a small phone list makes duplicates, so some candidates are rejected.
    return synthesize_domain(bank(), grammar(), SynthesisConfig(), seed=5, indices=range(120))


def test_records_round_trip_and_match_the_committed_schema() -> None:
    validator = jsonschema_rs.validator_for(json.loads((SCHEMAS_DIR / "task.schema.json").read_text()))
    for record in result().kept + result().rejected:
        text = record.model_dump_json()
        assert ToolScaleTask.model_validate_json(text) == record
        assert validator.is_valid(json.loads(text)), record.id


def test_records_export_to_the_upstream_task_shape() -> None:
    record = result().kept[0]
    upstream = record.to_upstream()
    assert set(upstream) <= set(Tau2Task.model_fields)
    assert Tau2Task.model_validate(upstream).evaluation_criteria == record.evaluation_criteria


def test_kept_records_carry_the_final_state_their_actions_reach() -> None:
    for record in result().kept[:30]:
        assert record.verification.verdict == "kept"
        assert record.verification.trace is None
        assert record.database.state_hash == bank().state_hash
        with bank().fork() as env:
            for action in record.actions:
                assert env.call(action.name, action.arguments).ok
            assert env.state_hash() == record.verification.expected_final_hash
            assert env.outcome_hash() == record.verification.expected_outcome_hash
            assert env.state_diff() == record.verification.expected_diff


def test_rejected_records_keep_their_reasons_and_trace() -> None:
    assert result().rejected
    for record in result().rejected:
        assert record.verification.verdict == "rejected"
        assert record.verification.reasons
        assert record.verification.trace is not None
        assert len(record.verification.trace) == len(record.actions)


def test_funnel_accounts_for_every_candidate() -> None:
    funnel = result().funnel
    assert list(funnel) == list(FUNNEL_STAGES)
    assert funnel["generated"] == 120 == sum(count for stage, count in funnel.items() if stage != "generated")
    assert funnel["kept"] == len(result().kept)


def test_synth_command_writes_the_same_files_twice(tmp_path: Path) -> None:
    database = tmp_path / "bank.sqlite"
    bank().save(database)
    outputs = []
    for run in ("first", "second"):
        out = tmp_path / run
        invocation = CliRunner().invoke(
            app,
            [
                "synth",
                "--domain",
                "bank",
                "--db",
                str(database),
                "--count",
                "50",
                "--seed",
                "2",
                "--out",
                str(out),
                "--no-progress",
            ],
        )
        assert invocation.exit_code == 0, invocation.output
        assert "kept" in invocation.output
        outputs.append({name: (out / name).read_bytes() for name in ("kept.jsonl", "rejected.jsonl", "stats.json")})
    assert outputs[0] == outputs[1]
    stats = json.loads(outputs[0]["stats.json"])
    assert stats["funnel"]["kept"] == 50 == len(outputs[0]["kept.jsonl"].splitlines())
    assert stats["funnel"]["generated"] == sum(count for stage, count in stats["funnel"].items() if stage != "generated")
    assert sum(stats["tool_usage"].values()) == sum(
        len(json.loads(line)["evaluation_criteria"]["actions"]) for line in outputs[0]["kept.jsonl"].splitlines()
    )


def test_synth_command_names_a_bad_database(tmp_path: Path) -> None:
    bad = tmp_path / "bank.sqlite"
    bad.write_text("not a database")
    invocation = CliRunner().invoke(
        app, ["synth", "--domain", "bank", "--db", str(bad), "--count", "5", "--out", str(tmp_path / "o")]
    )
    assert invocation.exit_code == 1
    assert f"{bad}: not a SQLite database file" in invocation.output
    assert not (tmp_path / "o").exists()


def test_synth_command_fails_when_too_few_tasks_verify(tmp_path: Path) -> None:
    database = tmp_path / "bank.sqlite"
    bank().save(database)
    arguments = ["synth", "--domain", "bank", "--db", str(database), "--count", "50", "--max-candidates", "20"]
    invocation = CliRunner().invoke(app, [*arguments, "--out", str(tmp_path / "o"), "--no-progress"])
    assert invocation.exit_code == 1
    assert "of 50 tasks verified within 20 candidates" in invocation.output


def test_reading_records_loads_neither_synthesizer_nor_verifier() -> None:
    """A trainer reading Parquet rows needs the record models only: not Jinja, Faker, the grammar or the verifier."""
    probe = (
        "import json, sys; import toolscale.tasks.record, toolscale.data.export; "
        "print(json.dumps(sorted(m for m in sys.modules if m in {'jinja2', 'faker'} "
        "or m.startswith(('toolscale.tasks.synthesize', 'toolscale.tasks.verify', 'toolscale.tasks.grammar')))))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []
