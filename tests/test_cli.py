"""The command line starts at once: `toolscale --help` and `toolscale spec validate` import none of the
heavy libraries other commands need (each command's module is imported only when it runs), and every
command in the list loads and answers --help."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from toolscale.cli import COMMANDS, app

HEAVY = ("ray", "datasets", "pyarrow", "pandas", "matplotlib", "torch", "transformers", "trl", "jinja2", "huggingface_hub")
PROBE = """
import json, sys
from toolscale.cli import app
try:
    app(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(name for name in {heavy!r} if name in sys.modules)))
"""


@pytest.mark.parametrize("arguments", [["--help"], ["spec", "validate", "domains/bank/domain.yaml"]])
def test_light_commands_import_no_heavy_library(arguments: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *arguments], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout.splitlines()[-1]) == []


def test_help_lists_every_command_with_its_own_summary() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name, command in COMMANDS.items():
        assert name in result.output
        assert command.short_help(), name


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_loads_and_answers_help(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
