"""`toolscale eval` with the endpoint policy: the environment's and scoring's share of the eval's wall time.

A real OpenAI-compatible server (llama.cpp's, `make llm-server`, SmolLM2-135M) answers on loopback; the
eval runs four bank tasks one at a time. Environment and scoring time is each task's wall time less the
time its requests took: resetting the episode (a fork of the cached database), every tool call through
the engine, the outcome, the group reward and the result and trajectory records. Target: under 2%.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from toolscale.domain.loader import domain_dir, load_domain
from toolscale.eval.config import EvalConfig
from toolscale.eval.llama_server import MODEL_ALIAS, LlamaServer, smollm2_model
from toolscale.eval.runner import evaluate
from toolscale.populate.stage import populate
from toolscale.tasks.grammar import GRAMMAR_FILE, load_grammar
from toolscale.tasks.preference import SynthesisConfig
from toolscale.tasks.run import synthesize_domain

TASKS = 4
TARGET_SHARE = 0.02


def main() -> None:
    model = smollm2_model()
    if model is None:
        raise SystemExit("benchmarks.eval: the llama.cpp server is not built; run `make llm-server`")
    spec = load_domain("bank")
    grammar = load_grammar(domain_dir("bank") / GRAMMAR_FILE, spec)
    tasks = synthesize_domain(populate(spec, 30, seed=0), grammar, SynthesisConfig(), seed=0, indices=range(TASKS)).kept
    with tempfile.TemporaryDirectory() as directory, LlamaServer(model) as base_url:
        source = Path(directory) / "kept.jsonl"
        source.write_text("".join(task.model_dump_json() + "\n" for task in tasks), encoding="utf-8")
        policy = {"kind": "endpoint", "base_url": base_url, "model": MODEL_ALIAS, "max_tokens": 64, "concurrency": 1}
        config = EvalConfig.model_validate(
            {"data": {"source": str(source), "streaming": False}, "policies": {"smollm2": policy}, "max_turns": 3}
        )
        run = evaluate(config, Path(directory) / "eval")
    share = run.environment_seconds / run.unit_seconds
    figures = run.summary["smollm2"]["all"]
    print(
        f"eval, endpoint policy (llama.cpp, SmolLM2-135M), {run.units_run} bank tasks: {run.unit_seconds:.1f} s in tasks "
        f"({run.seconds:.1f} s with loading), environment + scoring {1000 * run.environment_seconds / run.units_run:.1f} ms "
        f"per task = {100 * share:.2f}% of task time (target < {100 * TARGET_SHARE:.0f}%); "
        f"{figures['tool_calls']:.1f} tool calls per task, accuracy {figures['accuracy']:.2f}, {run.errors} errors"
    )


if __name__ == "__main__":
    main()
