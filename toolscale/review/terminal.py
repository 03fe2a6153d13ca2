"""`toolscale show TASK_ID`: one task, its replayed gold trace and its diff as terminal text.

Styled with click's ANSI styles, which `typer.echo` strips when the output is not a terminal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import typer

from toolscale.data.schema import TASK_SCHEMA, row_to_task
from toolscale.engine.database import DomainDatabase
from toolscale.errors import ToolScaleError
from toolscale.review.pages import check_verdicts, failing_step, task_kind
from toolscale.review.replay import communicated_at, replay
from toolscale.review.specs import parsed_spec
from toolscale.tasks.record import ToolScaleTask

OUTPUT_WIDTH = 300  # characters of an observation shown before it is cut


class TaskNotFoundError(ToolScaleError, LookupError):
    """No kept or rejected record of that id in the output directory."""


def find_task(output: Path, task_id: str) -> tuple[ToolScaleTask, str | None]:
    """The record with this id and its split (None: a rejected candidate)."""
    shards = [*sorted((output / "data").glob("*/*.parquet")), *sorted((output / "rejected").glob("*.parquet"))]
    if not shards:
        raise TaskNotFoundError(f"{output}: no task shards; not a `toolscale run` output directory")
    for path in shards:
        table = pq.read_table(path, schema=TASK_SCHEMA, filters=[("id", "==", task_id)])
        if table.num_rows:
            split = path.name.rsplit("-", 3)[0] if path.parent.parent.name == "data" else None
            return row_to_task(table.to_pylist()[0]), split
    raise TaskNotFoundError(f"{task_id}: no such task in {output} (kept or rejected)")


def render_task(output: Path, task_id: str) -> str:
    task, split = find_task(output, task_id)
    spec = parsed_spec(task.domain)
    kinds = {tool.name: tool.kind for tool in spec.tools}
    steps = replay(DomainDatabase.load(spec, output / "databases" / f"{task.domain}.sqlite"), task)
    kept = task.verification.verdict == "kept"
    verdict = typer.style(task.verification.verdict.upper(), fg="green" if kept else "red", bold=True)
    lines = [
        f"{typer.style(task.id, bold=True)}  {verdict}  {task.domain} · {split or 'not in the dataset'} · {task.difficulty} · "
        f"{task_kind(task)}",
    ]
    for reason in task.verification.reasons:
        where = f" (step {reason.action_index + 1})" if reason.action_index is not None else ""
        lines.append(typer.style(f"  ✗ {reason.check}{where}: {reason.detail}", fg="red"))
    instructions = task.user_scenario.instructions
    lines += ["", typer.style("User scenario", bold=True)]
    if isinstance(instructions, str):
        lines.append(f"  {instructions}")
    else:
        for name in ("reason_for_call", "known_info", "unknown_info", "task_instructions"):
            value = getattr(instructions, name)
            if value:
                lines.append(f"  {name.replace('_', ' ')}: {value}")
    if task.preference.statement:
        lines.append(f"  preference: {task.preference.statement}")
    lines += ["", typer.style("Gold actions (replayed)", bold=True)]
    failing = failing_step(task)
    for number, step in enumerate(steps):
        mark = typer.style(" ◀ fails here", fg="red", bold=True) if number == failing else ""
        kind = kinds.get(step.name, "?")
        lines.append(f"  {number + 1}. {typer.style(step.name, bold=True)} [{kind}] {_compact(step.arguments)}{mark}")
        observation = _compact(step.output) if step.ok else typer.style(f"error: {step.error}", fg="red")
        lines.append(f"     → {_cut(observation)}")
        for table, rows in step.changes.items():
            for key, change in rows.items():
                lines.append(f"     Δ {table}[{key}]: {_change(change['before'], change['after'])}")
    criteria = task.evaluation_criteria
    for info in (criteria.communicate_info if criteria else None) or []:
        found = communicated_at(info, steps)
        lines.append(f"  tell the user {info!r}: " + (f"found in step {found + 1}" if found is not None else "found in no step"))
    lines += ["", typer.style("Checks", bold=True)]
    marks = {"passed": typer.style("✓", fg="green"), "failed": typer.style("✗", fg="red"), "not run": "·"}
    for verdict_line in check_verdicts(task):
        detail = (
            f" {verdict_line['detail']}"
            if verdict_line["detail"]
            else " (not run)"
            if verdict_line["status"] == "not run"
            else ""
        )
        lines.append(f"  {marks[verdict_line['status']]} {verdict_line['check']}{detail}")
    aliases = ", ".join(f"{alias} {weight:+.2f}" for alias, weight in task.preference.aliases.items())
    lines += [
        "",
        typer.style("Preference", bold=True)
        + f"  accuracy {task.preference.accuracy:.2f} · cost {task.preference.cost:.2f} · latency {task.preference.latency:.2f}"
        + (f" · {aliases}" if aliases else ""),
    ]
    for alias, price in task.pricing.experts.items():
        lines.append(
            f"  {alias}: {price.model}, ${price.input_price_per_million}/M in, ${price.output_price_per_million}/M out, "
            f"{price.seconds_per_call} s/call"
        )
    return "\n".join(lines)


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _cut(text: str) -> str:
    return text if len(text) <= OUTPUT_WIDTH else text[:OUTPUT_WIDTH] + f"… ({len(text):,} characters)"


def _change(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    if before is None:
        return "inserted " + _compact(after)
    if after is None:
        return "deleted " + _compact(before)
    return ", ".join(
        f"{column} {_compact(before[column])} → {_compact(after[column])}"
        for column in after
        if before.get(column) != after[column]
    )
