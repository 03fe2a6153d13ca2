"""A non-editable install works away from the checkout: the wheel carries domains, prompts and schemas,
and `toolscale run` on a small pipeline succeeds from an empty directory.

The wheel is installed into a fresh virtual environment of its own. Its third-party dependencies are
borrowed from the environment running the tests (one path line in a .pth file, which does not load
that environment's editable install of ToolScale), so the test needs no network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv*", "output", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "tests"
)


def run(command: list[str | Path], cwd: Path) -> str:
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, check=False, timeout=600)
    assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
    return result.stdout


def test_wheel_install_runs_a_pipeline_from_an_empty_directory(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist", source], cwd=tmp_path
    )
    [wheel] = (tmp_path / "dist").glob("toolscale-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"toolscale/_data/domains/bank/domain.yaml", "toolscale/_data/prompts/scenario.j2"} <= set(names)
    assert "toolscale/_data/schemas/task.schema.json" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    site_packages = Path(
        sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)})  # the new venv's
    )
    (site_packages / "borrowed-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--no-deps", wheel], cwd=tmp_path)

    empty = tmp_path / "elsewhere"
    empty.mkdir()
    location = run([venv / "bin" / "python", "-c", "import toolscale; print(toolscale.__file__)"], cwd=empty)
    assert location.startswith(str(venv)), location
    config = {"name": "tiny", "output_dir": "out", "seed": 0, "domains": ["bank"], "tasks": 5, "unit_candidates": 8}
    (empty / "tiny.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    run([venv / "bin" / "toolscale", "run", "tiny.yaml", "--workers", "1", "--no-progress"], cwd=empty)
    assert sorted(path.name for path in (empty / "out" / "data" / "bank").glob("*.parquet"))
    assert (empty / "out" / "README.md").is_file()
    assert sorted(path.name for path in empty.iterdir()) == ["out", "tiny.yaml"]
