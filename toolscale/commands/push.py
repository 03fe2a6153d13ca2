"""`toolscale push OUTPUT_DIR --repo org/name`: upload a pipeline's shards, card and stats to the Hub."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from huggingface_hub.errors import HfHubHTTPError

from toolscale.data.hub import PushError, push_dataset


def run_push(
    output_dir: Annotated[Path, typer.Argument(help="A `toolscale run` output directory.")],
    repo: Annotated[str, typer.Option(help="Dataset repo id, org/name.")],
    private: Annotated[bool, typer.Option(help="Create the repo private.")] = False,
) -> None:
    """Upload the dataset (card, stats, shards) with huggingface_hub; the token comes from HF_TOKEN or `hf auth login`."""
    try:
        url = push_dataset(output_dir, repo, private=private)
    except (PushError, HfHubHTTPError) as error:
        typer.echo(f"push to {repo}: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"pushed {output_dir} to {url}")
