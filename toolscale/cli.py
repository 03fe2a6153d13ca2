"""The `toolscale` command line: one sub-command per stage, each a thin wrapper over the library."""

from __future__ import annotations

import sys

import typer

from toolscale.commands import examples, populate, push, run, spec, synth, tau2, train
from toolscale.errors import ToolScaleError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Verified tool-use data for tool orchestrators.")
app.add_typer(spec.app, name="spec")
app.add_typer(tau2.app, name="tau2")
app.command("examples")(examples.run_examples)
app.command("populate")(populate.run_populate)
app.command("synth")(synth.run_synth)
app.command("train")(train.run_train)
app.command("run")(run.run_run)
app.command("push")(push.run_push)


def main() -> None:
    """The `toolscale` command: a user's mistake (bad input, a file in the way, a full disk) is one
    message and exit status 1, never a traceback."""
    try:
        app()
    except ToolScaleError as error:
        typer.echo(str(error), err=True)
        sys.exit(1)
    except OSError as error:
        # write_atomically names the file it was writing; a read names its own.
        where = f"{error.filename}: " if error.filename else ""
        typer.echo(f"{where}{error.strerror or error}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
