"""`toolscale train CONFIG`: GRPO-train an orchestrator on ToolScale tasks (see docs/training.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer


def run_train(
    config: Annotated[Path, typer.Argument(help="YAML run config (configs/train/*.yaml; fields in docs/training.md).")],
    max_steps: Annotated[int | None, typer.Option(help="Override grpo.max_steps (quick checks).")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a config key: --set grpo.learning_rate=1e-5 (repeatable).")
    ] = None,
) -> None:
    """Train with TRL's GRPOTrainer; writes the model, metrics.jsonl and metrics.png into the config's output_dir."""
    # Imported here: torch, transformers and TRL take seconds to load, and every other command would pay for it.
    from toolscale.train.config import load_config
    from toolscale.train.source import check_source

    settings = load_config(config, set_ or [])
    check_source(settings.data)
    from toolscale.train.trainer import train  # after the checks: the heavy imports wait for good input

    if max_steps is not None:
        settings = settings.model_copy(update={"grpo": settings.grpo.model_copy(update={"max_steps": max_steps})})
    started = time.perf_counter()
    result = train(settings)
    elapsed = time.perf_counter() - started
    if result.metrics:
        last = result.metrics[-1]
        typer.echo(
            f"{len(result.metrics)} logged steps in {elapsed:.0f}s; last: reward {last.get('reward', 0.0):.3f}, "
            f"correct {last.get('episode/correct', 0.0):.2f}, tool calls/episode {last.get('episode/tool_calls', 0.0):.2f}"
        )
    typer.echo(f"wrote {result.metrics_path}, {result.plot_path} and {settings.output_dir / 'final'}")
