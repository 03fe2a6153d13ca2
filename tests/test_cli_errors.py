"""Every command, given a bad input, answers with one message that names the input and the reason, exits 1,
shows no traceback and writes nothing. A new command must add its case here (the last test checks)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from toolscale.cli import COMMANDS, app

BROKEN_YAML = "bad.yaml"  # a flow sequence that never closes
BROKEN_JSONL = "bad.jsonl"  # an object that never closes

# command words -> (arguments after them, what the first line of the message starts with)
BAD_INPUTS: dict[str, tuple[list[str], str]] = {
    "spec validate": ([BROKEN_YAML], f"{BROKEN_YAML}: line 2, column 1: invalid YAML"),
    "tau2 import": ([BROKEN_JSONL, "--out", "tasks.jsonl"], f"{BROKEN_JSONL}: not JSON"),
    "tau2 export": (["missing.jsonl", "--out", "tasks.json"], "missing.jsonl: cannot read"),
    "tau2 replay": (["--calls", BROKEN_JSONL, "--out", "replay.jsonl"], f"{BROKEN_JSONL}: line 1: not JSON"),
    "domain new": (["vet", "--describe", "a clinic", "--replies", "missing"], "missing: not a folder of recorded replies"),
    "examples": (["nosuch"], "domains/nosuch/domain.yaml"),
    "populate": (["--domain", "nosuch"], "domains/nosuch/domain.yaml"),
    "synth": (["--domain", "bank", "--out", "synth", "--config", BROKEN_YAML], f"{BROKEN_YAML}: line 2, column 1: invalid YAML"),
    "run": ([BROKEN_YAML], f"{BROKEN_YAML}: line 2, column 1: invalid YAML"),
    "push": (["missing", "--repo", "org/name"], "push to org/name: missing: not a pipeline output"),
    "train": ([BROKEN_YAML], f"{BROKEN_YAML}: line 2, column 1: invalid YAML"),
    "eval": ([BROKEN_YAML, "--out", "eval"], f"{BROKEN_YAML}: line 2, column 1: invalid YAML"),
    "review build": (["missing"], "missing: no stats.json"),
    "review serve": (["missing"], "missing: no index.html"),
    "review apply": ([BROKEN_JSONL, "--output", "missing"], f"{BROKEN_JSONL}:1:"),
    "show": (["bank-0-0000001", "--output", "missing"], "missing: no task shards"),
}
# Commands that read no user input: nothing to get wrong.
NO_INPUT = {"spec schema": "regenerates schemas/ from the project's own models"}


@pytest.mark.parametrize("command", sorted(BAD_INPUTS))
def test_a_bad_input_is_one_message_naming_it(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / BROKEN_YAML).write_text("a: [\n")
    (tmp_path / BROKEN_JSONL).write_text('{"id": 1\n')
    before = sorted(tmp_path.rglob("*"))
    arguments, expected = BAD_INPUTS[command]
    result = CliRunner().invoke(app, [*command.split(), *arguments])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.splitlines()
    assert lines, result.output
    assert expected in lines[0], lines[0]
    assert "Traceback" not in result.output
    if command != "spec validate":  # it lists every problem, then a count
        assert len(lines) == 1, lines
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, not even an empty folder


def test_every_command_has_a_bad_input_case() -> None:
    commands = set()
    for name, lazy in COMMANDS.items():
        loaded = lazy.load(name)
        subcommands = getattr(loaded, "commands", {})
        commands |= {f"{name} {sub}" for sub in subcommands} if subcommands else {name}
    assert commands == set(BAD_INPUTS) | set(NO_INPUT)
