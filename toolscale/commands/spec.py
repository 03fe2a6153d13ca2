"""`toolscale spec`: validate domain specs and publish the project's JSON Schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolscale.atomic import write_atomically
from toolscale.domain.loader import SPEC_FILE, load_spec
from toolscale.spec.errors import SpecError

app = typer.Typer(no_args_is_help=True, help="Validate domain specs and publish the JSON Schemas.")


@app.command()
def validate(paths: Annotated[list[Path], typer.Argument(help="domain.yaml files, or domain folders holding one.")]) -> None:
    """Check specs: shape, references, SQL against the schema, parameters and effects."""
    failed = 0
    for given in paths:
        path = given / SPEC_FILE if given.is_dir() else given
        try:
            spec = load_spec(path)
        except SpecError as error:
            failed += 1
            for issue in error.issues:
                typer.echo(str(issue), err=True)
            continue
        typer.echo(f"{path}: ok ({len(spec.tables)} tables, {len(spec.tools)} tools)")
    if failed:
        typer.echo(f"{failed} of {len(paths)} spec(s) invalid", err=True)
        raise typer.Exit(1)


@app.command()
def schema() -> None:
    """Regenerate the JSON Schemas in schemas/ (domain spec and task record) from the models."""
    from toolscale.schemas import schema_texts  # the task record's models: synthesis, verifier, Jinja

    for path, text in schema_texts().items():
        write_atomically(path, text)
        typer.echo(f"wrote {path}")
