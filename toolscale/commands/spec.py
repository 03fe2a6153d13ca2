"""`toolscale spec`: validate domain specs and publish their JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from toolscale.spec.errors import SpecError
from toolscale.spec.loader import load_spec
from toolscale.spec.models import json_schema

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "domain.schema.json"

app = typer.Typer(no_args_is_help=True, help="Validate domain specs and publish their JSON Schema.")


@app.command()
def validate(paths: Annotated[list[Path], typer.Argument(help="domain.yaml files to check.")]) -> None:
    """Check specs: shape, references, SQL against the schema, parameters and effects."""
    failed = 0
    for path in paths:
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


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


@app.command()
def schema(out: Annotated[Path, typer.Option(help="Where to write the JSON Schema.")] = SCHEMA_PATH) -> None:
    """Write the JSON Schema of the domain spec (committed as schemas/domain.schema.json)."""
    out.write_text(schema_text(), encoding="utf-8")
    typer.echo(f"wrote {out}")
