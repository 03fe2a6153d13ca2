"""The pipeline on a real multi-node Ray cluster started on this machine: a head and a second node, each
its own `ray start` process. Output must be byte-identical to a local run, also when the second node is
killed mid-run (Ray resubmits the lost stage calls: stages are pure, so a retry gives the same bytes)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_pipeline import dataset_files, write_config
from toolscale.pipeline.config import load_run_config
from toolscale.pipeline.manifest import MANIFEST_FILE
from toolscale.pipeline.run import run_pipeline

RAY = shutil.which("ray", path=str(Path(sys.executable).parent)) or "ray"
# Long enough that a node can be killed while units remain: bank and weather, about 16 units.
CLUSTER_RUN = {"tasks": 60, "unit_candidates": 10}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Node:
    """One `ray start --block` process in a session of its own, so the whole node dies with its group."""

    def __init__(self, *arguments: str) -> None:
        command = [RAY, "start", "--block", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats", *arguments]
        environment = {**os.environ, "RAY_AUTH_MODE": "disabled"}
        self.process = subprocess.Popen(
            command, env=environment, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.log: list[str] = []
        assert self.process.stdout is not None
        deadline = time.monotonic() + 90
        for line in self.process.stdout:  # `ray start --block` reports the node up, then stays attached
            self.log.append(line)
            if "Ray runtime started" in line:
                return
            if time.monotonic() > deadline:
                break
        self.kill()
        pytest.fail("ray start did not come up:\n" + "".join(self.log))

    def kill(self) -> None:
        """SIGKILL the node and every process it started: Ray's workers run in sessions of their own, and
        a worker that outlived its raylet would still finish its task, which is not a node lost mid-task."""
        for pid in descendants(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()


def descendants(root: int) -> list[int]:
    """`root` and every process below it, from /proc (parents before children)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            pid, rest = stat.read_text().split(" (", 1)
            parent = int(rest.rsplit(") ", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(pid))
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(children.get(pid, []))
    return found


@pytest.fixture
def cluster() -> Iterator[tuple[str, Node]]:
    port = free_port()
    head = Node(
        "--head",
        f"--port={port}",
        "--include-dashboard=false",
        f"--dashboard-agent-listen-port={free_port()}",
    )
    address = f"127.0.0.1:{port}"
    worker = Node(f"--address={address}", f"--dashboard-agent-listen-port={free_port()}")
    try:
        yield address, worker
    finally:
        worker.kill()
        head.kill()


def cluster_command(config: Path, address: str) -> list[str]:
    return [sys.executable, "-m", "toolscale.cli", "run", str(config), "--ray-address", address, "--no-progress"]


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    directory = tmp_path_factory.mktemp("local")
    run_pipeline(load_run_config(write_config(directory, directory / "out", **CLUSTER_RUN)), workers=2, progress=False)
    return dataset_files(directory / "out")


def test_cluster_run_is_byte_identical_to_a_local_run(
    local_reference: dict[str, bytes], cluster: tuple[str, Node], tmp_path: Path
) -> None:
    address, _ = cluster
    config = write_config(tmp_path, tmp_path / "out", **CLUSTER_RUN)
    result = subprocess.run(cluster_command(config, address), capture_output=True, text=True, check=False, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert dataset_files(tmp_path / "out") == local_reference


def test_run_survives_a_worker_node_killed_midway(
    local_reference: dict[str, bytes], cluster: tuple[str, Node], tmp_path: Path
) -> None:
    address, worker = cluster
    output = tmp_path / "out"
    config = write_config(tmp_path, output, **CLUSTER_RUN)
    run = subprocess.Popen(cluster_command(config, address), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    manifest = output / MANIFEST_FILE
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # kill the second node once synthesis units are landing
        domains = json.loads(manifest.read_text())["domains"] if manifest.exists() else {}
        if sum(len(state["units"]) for state in domains.values()) >= 2:
            break
        assert run.poll() is None, run.communicate()
        time.sleep(0.05)
    assert not (output / "README.md").exists(), "the run finished before the node could be killed"
    worker.kill()
    stdout, stderr = run.communicate(timeout=600)
    assert run.returncode == 0, stdout + stderr
    assert dataset_files(output) == local_reference
