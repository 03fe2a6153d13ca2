"""The `toolscale` command line: one sub-command per stage, each a thin wrapper over the library."""

from __future__ import annotations

import typer

from toolscale.commands import eval, examples, populate, push, run, spec, synth, tau2, train

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Verified tool-use data for tool orchestrators.")
app.add_typer(spec.app, name="spec")
app.add_typer(tau2.app, name="tau2")
app.command("examples")(examples.run_examples)
app.command("populate")(populate.run_populate)
app.command("synth")(synth.run_synth)
app.command("train")(train.run_train)
app.command("eval")(eval.run_eval)
app.command("run")(run.run_run)
app.command("push")(push.run_push)

if __name__ == "__main__":
    app()
