"""`toolscale examples DOMAIN`: replay a domain's hand-written example tasks."""

from __future__ import annotations

from typing import Annotated

import typer

from toolscale.examples import example_database, example_tasks, replay_example


def run_examples(domain: Annotated[str, typer.Argument(help="Domain name, e.g. bank.")] = "bank") -> None:
    """Build the domain's fixture database and replay its example tasks, checking each final state."""
    database = example_database(domain)
    typer.echo(f"{domain}: built fixture database ({len(database.image):,} bytes, state {database.state_hash[:12]})")
    failures = 0
    for task in example_tasks(domain):
        result = replay_example(database, task)
        typer.echo(f"\n[{task.id}] {task.instruction}")
        for action, observation in zip(task.actions, result.observations, strict=True):
            typer.echo(f"  {action.name}({action.arguments}) -> {observation.content[:160]}")
        verdict = "PASS" if result.passed else "FAIL"
        typer.echo(f"  {verdict}: final state {result.final_hash[:12]}")
        for mismatch in result.mismatches:
            typer.echo(f"    {mismatch}")
        failures += not result.passed
    if failures:
        raise typer.Exit(1)
