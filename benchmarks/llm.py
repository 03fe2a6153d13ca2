"""Requests/s of the openai backend against vLLM's own benchmark client, on one `vllm serve`, in one run.

One server (vLLM on the CPU from .venv-vllm, `make vllm`, SmolLM2-135M) answers on loopback. Each round
measures, one after the other on the same warm server: (a) `vllm bench serve` (openai-chat, its random
dataset of fixed input and output lengths, a fixed seed), and (b) our openai backend's `complete()` on
the very prompts that dataset holds (made by the same vLLM code with the same seed and tokenizer), at
the same concurrency and max tokens, with the cache off. Both count requests answered per second of
their own timed span. Target: ours >= 80% of vLLM's client, as the median ratio of the rounds.

The server runs eager (no torch.compile): compiling takes minutes on two cores, and both clients meet
the same server either way. The answers are cut at max tokens (random prompts rarely end sooner), so our
backend records them as `too_long` failures: answered all the same, and their tokens are counted.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from toolscale.eval.llama_server import free_port
from toolscale.llm.config import LLMConfig
from toolscale.llm.factory import make_client
from toolscale.llm.types import ChatRequest, LLMFailure

ROOT = Path(__file__).resolve().parents[1]
VLLM_PYTHON = ROOT / ".venv-vllm" / "bin" / "python"
MODEL = ROOT / ".models" / "smollm2-135m"
SERVED_NAME = "smollm2"
PROMPTS = 48
CONCURRENCY = 8
INPUT_LEN = 64
OUTPUT_LEN = 32
ROUNDS = 3
SEED = 0
TARGET_RATIO = 0.80
# 1 GiB of KV cache is plenty for SmolLM2 at this concurrency (vLLM's CPU default takes 4).
VLLM_ENV = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "PYTHONPATH": str(ROOT)}

# The prompts `vllm bench serve --dataset-name random` sends, made by its own code with its seed and tokenizer.
_RANDOM_PROMPTS = f"""
import json
from vllm.benchmarks.datasets import RandomDataset
from vllm.tokenizers import get_tokenizer
samples = RandomDataset(random_seed={SEED}).sample(
    tokenizer=get_tokenizer({str(MODEL)!r}), num_requests={PROMPTS}, input_len={INPUT_LEN}, output_len={OUTPUT_LEN}
)
print(json.dumps([sample.prompt for sample in samples]))
"""


class VLLMServer:
    """`with VLLMServer() as base_url:` vLLM's OpenAI-compatible server at base_url (…/v1), stopped on exit."""

    def __init__(self, startup_s: float = 600.0) -> None:
        self.startup_s = startup_s
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  # closed in __exit__; not a pipe: the server is chatty
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        port = free_port()
        command = [
            str(VLLM_PYTHON), "-m", "benchmarks.vllm_cli", "serve", str(MODEL), "--served-model-name", SERVED_NAME,
            "--host", "127.0.0.1", "--port", str(port), "--enforce-eager", "--seed", str(SEED),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=ROOT, env=VLLM_ENV, stdout=self.log, stderr=subprocess.STDOUT)
        base_url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + self.startup_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                tail = self.log.read().decode(errors="replace")[-3000:]
                raise SystemExit(f"benchmarks.llm: vllm serve exited with {self.process.returncode}:\n{tail}")
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=2):
                    return base_url
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(1.0)
        self.__exit__(None, None, None)
        raise SystemExit(f"benchmarks.llm: vllm serve did not answer within {self.startup_s:.0f} s")

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def random_prompts() -> list[str]:
    done = subprocess.run(
        [str(VLLM_PYTHON), "-c", _RANDOM_PROMPTS], cwd=ROOT, env=VLLM_ENV, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmarks.llm: vLLM's random dataset failed:\n{done.stderr[-3000:]}")
    prompts: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return prompts


def vllm_bench(base_url: str, result: Path) -> tuple[float, int, int]:
    """`vllm bench serve` once: requests/s, requests answered, output tokens (from its JSON result)."""
    command = [
        str(VLLM_PYTHON), "-m", "benchmarks.vllm_cli", "bench", "serve", "--backend", "openai-chat",
        "--base-url", base_url.removesuffix("/v1"), "--endpoint", "/v1/chat/completions",
        "--model", SERVED_NAME, "--tokenizer", str(MODEL), "--dataset-name", "random",
        "--random-input-len", str(INPUT_LEN), "--random-output-len", str(OUTPUT_LEN), "--seed", str(SEED),
        "--num-prompts", str(PROMPTS), "--max-concurrency", str(CONCURRENCY), "--temperature", "0",
        "--save-result", "--result-dir", str(result.parent), "--result-filename", result.name,
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=VLLM_ENV, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not result.exists():
        raise SystemExit(f"benchmarks.llm: vllm bench serve failed:\n{(done.stdout + done.stderr)[-3000:]}")
    figures = json.loads(result.read_text(encoding="utf-8"))
    result.unlink()
    return float(figures["request_throughput"]), int(figures["completed"]), int(figures["total_output_tokens"])


def ours(base_url: str, prompts: list[str]) -> tuple[float, int, int]:
    """Our openai backend once, cache off: requests/s, requests answered, output tokens."""
    config = LLMConfig(
        backend="openai", model=SERVED_NAME, base_url=base_url, concurrency=CONCURRENCY, max_tokens=OUTPUT_LEN, max_repairs=0
    )
    requests = [ChatRequest(stage="bench", messages=({"role": "user", "content": prompt},)) for prompt in prompts]
    client = make_client(config, cache_path=None)
    try:
        started = time.perf_counter()
        outcomes = client.complete(requests)
        seconds = time.perf_counter() - started
        usage = client.usage()["bench"]
    finally:
        client.close()
    answered = sum(1 for outcome in outcomes if not (isinstance(outcome, LLMFailure) and outcome.reason == "transport"))
    return answered / seconds, answered, usage.output_tokens


def main() -> None:
    if not (VLLM_PYTHON.exists() and (MODEL / "config.json").exists()):
        raise SystemExit("benchmarks.llm: vLLM on the CPU is not built; run `make vllm`")
    prompts = random_prompts()
    ratios = []
    with tempfile.TemporaryDirectory() as directory, VLLMServer() as base_url:
        result = Path(directory) / "vllm-bench.json"
        for round_number in range(1, ROUNDS + 1):
            theirs_rate, theirs_answered, theirs_tokens = vllm_bench(base_url, result)
            ours_rate, ours_answered, ours_tokens = ours(base_url, prompts)
            ratios.append(ours_rate / theirs_rate)
            print(
                f"llm round {round_number}: vllm bench serve {theirs_rate:.2f} req/s ({theirs_answered}/{PROMPTS} answered, "
                f"{theirs_tokens} tokens out), openai backend {ours_rate:.2f} req/s ({ours_answered}/{PROMPTS}, "
                f"{ours_tokens} tokens out), ratio {ratios[-1]:.2f}",
                flush=True,
            )
    median = statistics.median(ratios)
    verdict = "meets" if median >= TARGET_RATIO else "misses"
    print(
        f"llm throughput, vllm serve (CPU, SmolLM2-135M, eager), {PROMPTS} prompts of {INPUT_LEN} tokens in and {OUTPUT_LEN} "
        f"out at concurrency {CONCURRENCY}: openai backend / vllm bench serve = {median:.2f} (median of {ROUNDS}), "
        f"{verdict} the target >= {TARGET_RATIO:.2f}"
    )


if __name__ == "__main__":
    main()
