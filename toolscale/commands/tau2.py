"""`toolscale tau2`: import and export τ²-bench tasks, and replay action lists with upstream's diff."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from toolscale.atomic import write_atomically
from toolscale.domain.loader import load_domain
from toolscale.tau2.export import read_exportable
from toolscale.tau2.replay import Replayer, ReplayInputError
from toolscale.tau2.tasks import (
    action_problems,
    import_tasks,
    read_tau2_tasks,
    tau2_tasks_json,
    write_task_records,
)

app = typer.Typer(no_args_is_help=True, help="Import/export τ²-bench tasks and replay actions with τ²-bench's diff format.")


@app.command("import")
def import_command(
    tasks: Annotated[Path, typer.Argument(help="An upstream tasks.json.")],
    out: Annotated[Path, typer.Option(help="Where to write the task records (JSONL).")],
    domain: Annotated[str, typer.Option(help="The ToolScale domain the tasks run in.")] = "retail",
) -> None:
    """Read upstream tasks, check their actions against the domain's tools, write ToolScale task records."""
    upstream = read_tau2_tasks(tasks)
    spec = load_domain(domain)
    problems = [problem for task in upstream for problem in action_problems(task, spec)]
    for problem in problems:
        typer.echo(f"{tasks}: {problem}", err=True)
    if problems:
        raise typer.Exit(1)
    write_task_records(import_tasks(upstream, domain), out)
    typer.echo(f"{out}: {len(upstream)} task(s) of domain {domain!r}")


@app.command("export")
def export_command(
    records: Annotated[
        Path,
        typer.Argument(help="Task records: JSONL (tau2 import, synth), a Parquet shard or a folder of shards."),
    ],
    out: Annotated[Path, typer.Option(help="Where to write the upstream tasks.json.")],
) -> None:
    """Write task records in upstream's tasks.json shape: upstream's fields only, loadable by τ²-bench's Task."""
    tasks = read_exportable(records)
    write_atomically(out, tau2_tasks_json(tasks))
    typer.echo(f"{out}: {len(tasks)} task(s)")


@app.command("replay")
def replay_command(
    calls: Annotated[Path, typer.Option(help='JSONL: {"id", "actions": [{"name", "arguments"}]} or a task record per line.')],
    out: Annotated[Path, typer.Option(help="Where to write one result line per input line.")],
    domain: Annotated[str, typer.Option(help="The domain (one with a τ²-bench converter).")] = "retail",
) -> None:
    """Run each line's actions in order on its own fresh copy of the database; report calls and final diff."""
    replayer = Replayer.for_domain(domain)
    try:
        lines = calls.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise ReplayInputError(f"{calls}: not UTF-8 text (byte {error.start})") from error
    results = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{calls}: line {number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise ReplayInputError(f"{where}: not JSON: {error}") from error
        except RecursionError as error:
            raise ReplayInputError(f"{where}: nests too deep to read") from error
        if not isinstance(item, dict):
            raise ReplayInputError(f"{where}: expected an object with 'id' and 'actions'")
        results.append(replayer.replay(item, where))
    write_atomically(out, "".join(json.dumps(result, ensure_ascii=False) + "\n" for result in results))
    failed = sum(not call["ok"] for result in results for call in result["actions"])
    changed = sum(any(result["final_db_diff"].values()) for result in results)
    typer.echo(f"{out}: {len(results)} item(s), {failed} failed call(s), {changed} with a changed database")
