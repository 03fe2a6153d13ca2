"""`toolscale eval CONFIG --out DIR`: run policies over a split of tasks; results, trajectories, table and plots."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def run_eval(
    config: Annotated[Path, typer.Argument(help="YAML eval config (configs/eval/*.yaml; keys in docs/eval.md).")],
    out: Annotated[Path, typer.Option(help="Output folder: results.jsonl, trajectories.jsonl, summary.json/.md, plots.")],
    policy: Annotated[list[str] | None, typer.Option(help="Only this policy of the config (repeatable).")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a config key: --set data.limit=20 (repeatable).")
    ] = None,
) -> None:
    """Evaluate with the trainer's environment, outcome and reward; a rerun skips finished tasks."""
    # Imported here: transformers loads for seconds, and every other command would pay for it.
    import datasets

    from toolscale.eval.config import load_eval_config
    from toolscale.eval.runner import SUMMARY, TABLE, evaluate

    datasets.disable_progress_bars()  # the eval's own lines are the progress
    settings = load_eval_config(config, set_ or [])
    result = evaluate(settings, out, policy, echo=typer.echo)
    typer.echo((out / TABLE).read_text(encoding="utf-8"))
    typer.echo(
        f"{result.units_run} task(s) run, {result.units_skipped} already done, {result.errors} rollout error(s) in "
        f"{result.seconds:.1f} s; wrote {out / SUMMARY} and the rest of {out}"
    )
