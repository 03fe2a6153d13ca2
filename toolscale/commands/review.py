"""`toolscale review OUTPUT`, `review serve`, `review apply` and `toolscale show`: the reviewers' surface."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from toolscale.review.apply import apply_labels
from toolscale.review.serve import SERVED_LABELS, review_server
from toolscale.review.site import DEFAULT_SITE, ReviewError, build_site
from toolscale.review.terminal import render_task


class _BuildByDefault(TyperGroup):
    """`toolscale review OUTPUT` means `toolscale review build OUTPUT`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["build", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_BuildByDefault,
    no_args_is_help=True,
    help="The reviewers' static site (`toolscale review OUTPUT` builds it), its server and their labels.",
)


@app.command("build")
def build_command(
    output: Annotated[Path, typer.Argument(help="A `toolscale run` output directory.")],
    out: Annotated[Path | None, typer.Option(help=f"Where to write the site (default: OUTPUT/{DEFAULT_SITE}).")] = None,
    trajectories: Annotated[
        list[Path] | None,
        typer.Option(help="A trajectories.jsonl of `toolscale eval` or the trainer, or a folder searched for them (repeatable)."),
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Processes replaying domains (default: all CPUs).")] = None,
) -> None:
    """Build the static review site: index with filters, task pages, trajectories. Opens from disk, no server needed."""
    summary = build_site(output, out, trajectories or [], workers)
    typer.echo(
        f"{summary.site / 'index.html'}: {summary.kept:,} kept tasks, {summary.rejected:,} rejected candidates, "
        f"{summary.rollouts:,} rollouts in {summary.files:,} files; {summary.rebuilt} domains made, the others unchanged; "
        f"{summary.seconds:.1f} s"
    )


@app.command("serve")
def serve_command(
    site: Annotated[Path, typer.Argument(help=f"A built site (e.g. output/{DEFAULT_SITE}).")],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free one).")] = 8000,
) -> None:
    """Serve a built site on localhost; verdicts given on its pages are appended to SITE/labels.jsonl."""
    if not (site / "index.html").is_file():
        raise ReviewError(f"{site}: no index.html; build the site with `toolscale review OUTPUT` first")
    server = review_server(site, port)
    typer.echo(
        f"serving {site} at http://127.0.0.1:{server.server_address[1]}/ ; labels go to {site / SERVED_LABELS} (Ctrl-C stops)"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@app.command("apply")
def apply_command(
    labels: Annotated[Path, typer.Argument(help="A labels.jsonl exported from the site or written by `review serve`.")],
    output: Annotated[Path, typer.Option(help="The output directory the labels are about.")] = Path("output"),
) -> None:
    """Record reviewers' labels in OUTPUT; the next `toolscale run` drops flagged tasks as reviewer_flagged."""
    applied = apply_labels(labels, output)
    counts = applied.counts
    typer.echo(
        f"{output}: {applied.added} new labels ({applied.already} already recorded); {counts['reviewed']} tasks reviewed, "
        f"{counts['approved']} approved, {counts['flagged']} flagged. Rerun `toolscale run` to export without the flagged ones."
    )


def show_command(
    task_id: Annotated[str, typer.Argument(help="A task id, e.g. bank-0-0000042 (kept or rejected).")],
    output: Annotated[Path, typer.Option(help="The output directory holding the task.")] = Path("output"),
) -> None:
    """One task in the terminal: scenario, gold actions replayed with observations and row changes, checks, preference."""
    typer.echo(render_task(output, task_id))
