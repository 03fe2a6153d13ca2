"""`toolscale run CONFIG`: the pipeline, from domain specs to Parquet shards, card and stats."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolscale.pipeline.config import load_run_config
from toolscale.pipeline.run import run_pipeline


def run_run(
    config: Annotated[Path, typer.Argument(help="A run config, e.g. pipelines/default.yaml.")],
    domain: Annotated[list[str] | None, typer.Option(help="Only this domain of the config (repeatable).")] = None,
    output_dir: Annotated[Path | None, typer.Option(help="Override the config's output_dir.")] = None,
    ray_address: Annotated[str | None, typer.Option(help="A Ray cluster's address; default: a local Ray for this run.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="CPUs of the local Ray (default: all).")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Build databases, synthesize and verify tasks, export shards; resumes an interrupted run, and a finished
    run is left as it is."""
    run_config = load_run_config(config)
    if output_dir is not None:
        run_config = run_config.model_copy(update={"output_dir": output_dir})
    summary = run_pipeline(run_config, only=domain, address=ray_address, workers=workers, progress=progress)
    out = run_config.output_dir
    total = sum(summary.tasks.values())
    for name, tasks in summary.tasks.items():
        typer.echo(f"  {name:<12} {tasks:>7,} tasks")
    if summary.did_work:
        typer.echo(
            f"{out}: {total:,} tasks in {len(summary.tasks)} domains; this run: {summary.databases_built} databases, "
            f"{summary.units_run} units, {summary.domains_exported} exports in {summary.seconds:.1f} s"
        )
    else:
        typer.echo(f"{out}: already complete ({total:,} tasks in {len(summary.tasks)} domains); nothing to do")
    for name, reason in summary.failed.items():
        typer.echo(f"{name}: {reason}", err=True)
    if summary.failed:
        raise typer.Exit(1)
