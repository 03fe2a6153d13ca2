"""`python -m toolscale.commands.llm_local CONFIG [RUN OPTIONS]` (`make llm-local`): `toolscale run` against a
llama.cpp server started for it on loopback with the SmolLM2-135M model (`make llm-server` builds it),
and stopped when the run ends. The run's own output, exit status and resuming are `toolscale run`'s.
"""

from __future__ import annotations

import subprocess
import sys

from toolscale.eval.llama_server import LlamaServer, ServerError, smollm2_model


def main(arguments: list[str]) -> int:
    model = smollm2_model()
    if model is None:
        print("no SmolLM2-135M model: the llama.cpp server's virtualenv is not built (run `make llm-server`)", file=sys.stderr)
        return 1
    try:
        with LlamaServer(model) as base_url:
            command = [sys.executable, "-m", "toolscale.cli", "run", *arguments, "--llm-base-url", base_url]
            return subprocess.run(command, check=False).returncode
    except ServerError as error:
        print(str(error), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
