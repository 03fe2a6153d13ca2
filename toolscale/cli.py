"""The `toolscale` command line: one sub-command per module of `toolscale.commands`.

A command's module is imported only when that command runs: the modules pull in Ray, datasets,
matplotlib, torch and the rest, and `toolscale --help` or `toolscale spec validate` should not wait for
libraries they never use. The one-line help of the command list is read from the module's source
(the command function's docstring, or the `help` of its Typer app) without importing it.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from toolscale.errors import ToolScaleError


@dataclass(frozen=True)
class LazyCommand:
    module: str
    attribute: str  # a Typer app (a command group) or a command function

    def load(self, name: str) -> Any:  # a click command of the click Typer vendors (its types are private)
        target = getattr(importlib.import_module(self.module), self.attribute)
        command: Any
        if isinstance(target, typer.Typer):
            command = typer.main.get_group(target)
        else:
            single = typer.Typer(add_completion=False)
            single.command(name)(target)
            command = typer.main.get_command(single)
        command.name = name
        return command

    def short_help(self) -> str:
        spec = importlib.util.find_spec(self.module)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(self.module)
        for node in ast.parse(Path(spec.origin).read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name == self.attribute:
                return (ast.get_docstring(node) or "").split(". ")[0].split("\n\n")[0].replace("\n", " ").rstrip(".")
            if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == self.attribute for target in node.targets):
                keywords = node.value.keywords if isinstance(node.value, ast.Call) else []
                return next((str(k.value.value) for k in keywords if k.arg == "help" and isinstance(k.value, ast.Constant)), "")
        return ""


COMMANDS = {
    "spec": LazyCommand("toolscale.commands.spec", "app"),
    "tau2": LazyCommand("toolscale.commands.tau2", "app"),
    "examples": LazyCommand("toolscale.commands.examples", "run_examples"),
    "populate": LazyCommand("toolscale.commands.populate", "run_populate"),
    "domain": LazyCommand("toolscale.commands.domain", "app"),
    "synth": LazyCommand("toolscale.commands.synth", "run_synth"),
    "run": LazyCommand("toolscale.commands.run", "run_run"),
    "push": LazyCommand("toolscale.commands.push", "run_push"),
    "train": LazyCommand("toolscale.commands.train", "run_train"),
    "eval": LazyCommand("toolscale.commands.eval", "run_eval"),
    "review": LazyCommand("toolscale.commands.review", "app"),
    "show": LazyCommand("toolscale.commands.review", "show_command"),
}


class LazyGroup(TyperGroup):
    """Loads a command when it is asked for. Contexts, commands and formatters are those of the click
    that Typer vendors, whose types are private, hence `Any` below."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *COMMANDS]

    def get_command(self, ctx: Any, name: str) -> Any:
        if name in COMMANDS:
            return COMMANDS[name].load(name)
        return super().get_command(ctx, name)

    def invoke(self, ctx: Any) -> Any:
        """Every command runs through here: a user's mistake (bad input, a file in the way, a full disk) is
        one message and exit status 1, never a traceback. Usage errors stay click's (status 2)."""
        try:
            return super().invoke(ctx)
        except ToolScaleError as error:
            typer.echo(str(error), err=True)
            raise typer.Exit(1) from error
        except OSError as error:
            # write_atomically names the file it was writing; a read names its own.
            where = f"{error.filename}: " if error.filename else ""
            typer.echo(f"{where}{error.strerror or error}", err=True)
            raise typer.Exit(1) from error

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The list of `--help`, from the sources: loading each command to ask it would import them all."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, command.short_help()) for name, command in COMMANDS.items()])


# rich_markup_mode=None: Typer's rich help asks every command for its help, which would load them all.
app = typer.Typer(
    cls=LazyGroup,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    help="Verified tool-use data for tool orchestrators.",
)


@app.callback()
def toolscale() -> None:
    """Verified tool-use data for tool orchestrators."""


if __name__ == "__main__":
    app()
