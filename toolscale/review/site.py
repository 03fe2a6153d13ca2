"""`toolscale review OUTPUT`: the reviewers' static site of a pipeline output directory.

The site is plain files that open from disk (file://) or any static host: `index.html`, hand-written
`assets/`, and data as JavaScript chunks (`data/.../*.js`, each calling `ReviewData.receive(name,
payload)`) that the page loads with script tags on demand, since browsers refuse fetch() from file://.
The index loads one small columnar chunk per domain; search text and task pages are loaded when
first needed, so 100,000 tasks never make one giant file. Same output, same site bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import version
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from toolscale.data.export import read_parquet_tasks
from toolscale.data.labels import LABELS_FILE, read_labels, review_counts
from toolscale.domain.loader import domain_dir
from toolscale.engine.database import DomainDatabase
from toolscale.errors import ToolScaleError
from toolscale.review.pages import ALL_CHECKS, preference_label, search_text, task_kind, task_page
from toolscale.review.replay import replay
from toolscale.review.specs import parsed_spec
from toolscale.review.trajectories import read_rollouts, trajectory_files
from toolscale.tasks.record import ToolScaleTask
from toolscale.tasks.run import FUNNEL_STAGES

CHUNK_TASKS = 50  # tasks per page chunk: one chunk is what opening a task page loads
DEFAULT_SITE = "site"  # inside the output directory
BUILD_RECORDS = ".build"  # inside the site: what each domain's part was made from, to skip it when unchanged
ASSETS = ("index.html", "review.css", "review.js")


class ReviewError(ToolScaleError, ValueError):
    """An output directory or site the review cannot use; the message says which and why."""


@dataclass(frozen=True)
class SiteSummary:
    site: Path
    kept: int
    rejected: int
    rollouts: int
    files: int
    rebuilt: int  # domains made again (the others' inputs had not changed)
    seconds: float


def build_site(
    output: Path, site: Path | None = None, trajectories: Sequence[Path] = (), workers: int | None = None
) -> SiteSummary:
    """Writes the site; a domain whose inputs (shards, database, rollouts, this code) are unchanged since
    the last build into `site` keeps its chunks, so a rebuild after `review apply` and a run redoes one domain."""
    start = time.perf_counter()
    site = site if site is not None else output / DEFAULT_SITE
    stats = _read_stats(output)
    domains = sorted(stats["domains"])
    rollouts = read_rollouts(trajectory_files(trajectories))
    data, built = site / "data", site / BUILD_RECORDS
    for entry in data.glob("*"):
        if entry.name not in _PER_DOMAIN:
            _remove(entry)
    for entry in [*built.glob("*"), *(entry for folder in _PER_DOMAIN for entry in (data / folder).glob("*"))]:
        if entry.name.removesuffix(".js").removesuffix(".json") not in domains:
            _remove(entry)
    results: dict[str, dict[str, Any]] = {}
    jobs = []
    for domain in domains:
        runs = {task: domain_runs for task, domain_runs in rollouts.items() if task.startswith(f"{domain}-")}
        inputs = _inputs_digest(output, domain, runs)
        record = _built_record(built / f"{domain}.json", inputs)
        if record is not None and all((data / folder / name).exists() for folder, name in _parts(domain)):
            results[domain] = record
            continue
        shutil.rmtree(data / "tasks" / domain, ignore_errors=True)
        jobs.append((domain, output, data, runs, inputs))
    count = min(len(jobs), workers or os.cpu_count() or 1)
    if count <= 1:
        made = [_domain_site(*job) for job in jobs]
    else:
        with ProcessPoolExecutor(count) as pool:
            made = list(pool.map(_domain_site, *zip(*jobs, strict=True)))
    for result in made:
        domain = result["domain"]
        _write_js(data / "index" / f"{domain}.js", f"index/{domain}", result.pop("index"))
        _write_js(data / "text" / f"{domain}.js", f"text/{domain}", result.pop("text"))
        built.mkdir(parents=True, exist_ok=True)
        (built / f"{domain}.json").write_text(json.dumps(result, sort_keys=True) + "\n", encoding="utf-8")
        results[domain] = result
    summary = _summary(stats, results, read_labels(output / LABELS_FILE))
    _write_js(data / "summary.js", "summary", summary)
    _write_static(site, output, domains)
    files = sum(1 for path in site.rglob("*") if path.is_file() and BUILD_RECORDS not in path.relative_to(site).parts)
    return SiteSummary(
        site=site,
        kept=sum(result["kept"] for result in results.values()),
        rejected=sum(result["rejected"] for result in results.values()),
        rollouts=sum(len(runs) for runs in rollouts.values()),
        files=files,
        rebuilt=len(made),
        seconds=time.perf_counter() - start,
    )


_PER_DOMAIN = ("index", "text", "tasks")  # folders of data/ with one entry per domain


def _parts(domain: str) -> list[tuple[str, str]]:
    return [("index", f"{domain}.js"), ("text", f"{domain}.js"), ("tasks", domain)]


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def _inputs_digest(output: Path, domain: str, rollouts: Mapping[str, Any]) -> str:
    """Everything a domain's part of the site is made from: its shards, its database, its rollouts and this code."""
    digest = hashlib.sha256(version("toolscale").encode("utf-8"))
    files = [*sorted((output / "data" / domain).glob("*.parquet")), *sorted((output / "rejected").glob(f"{domain}-*.parquet"))]
    files += [output / "databases" / f"{domain}.sqlite", *sorted(Path(__file__).parent.glob("*.py"))]
    for path in files:
        digest.update(path.name.encode("utf-8") + b"\0" + (hashlib.sha256(path.read_bytes()).digest() if path.exists() else b"-"))
    digest.update(json.dumps(rollouts, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def _built_record(path: Path, inputs: str) -> dict[str, Any] | None:
    try:
        record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if record.get("inputs") == inputs else None


def _read_stats(output: Path) -> dict[str, Any]:
    path = output / "stats.json"
    try:
        stats: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ReviewError(f"{output}: no stats.json; not a `toolscale run` output directory") from error
    except (OSError, ValueError) as error:
        raise ReviewError(f"{path}: cannot read the run stats: {error}") from error
    if not isinstance(stats.get("domains"), dict):
        raise ReviewError(f"{path}: domains: missing; not a `toolscale run` stats file")
    return stats


def domain_tasks(output: Path, domain: str) -> list[tuple[ToolScaleTask, str | None]]:
    """A domain's kept tasks with their split and its rejected candidates (split None), in candidate order."""
    tasks: list[tuple[ToolScaleTask, str | None]] = []
    for path in sorted((output / "data" / domain).glob("*.parquet")):
        split = path.name.rsplit("-", 3)[0]
        tasks += [(task, split) for task in read_parquet_tasks(path)]
    for path in sorted((output / "rejected").glob(f"{domain}-*.parquet")):
        tasks += [(task, None) for task in read_parquet_tasks(path) if task.domain == domain]
    return sorted(tasks, key=lambda pair: pair[0].provenance.index)


def _domain_site(
    domain: str, output: Path, data: Path, rollouts: Mapping[str, list[dict[str, Any]]], inputs: str
) -> dict[str, Any]:
    """Writes one domain's page chunks; returns its columnar index, search text and figures."""
    spec = parsed_spec(domain)
    tool_kinds = {tool.name: tool.kind for tool in spec.tools}
    database = DomainDatabase.load(spec, output / "databases" / f"{domain}.sqlite")
    tasks = domain_tasks(output, domain)
    names = ("id", "kept", "split", "difficulty", "kind", "reason", "preference", "writes", "rollouts")
    columns: dict[str, list[Any]] = {name: [] for name in names}
    codes: dict[str, dict[str, int]] = {name: {} for name in ("split", "difficulty", "kind", "reason", "preference", "tool")}

    def code(column: str, value: str) -> int:
        return codes[column].setdefault(value, len(codes[column]))

    text: list[str] = []
    sequences: Counter[tuple[str, ...]] = Counter()
    kinds: Counter[str] = Counter()
    chunk: list[dict[str, Any]] = []
    for position, (task, split) in enumerate(tasks):
        runs = rollouts.get(task.id, [])
        chunk.append(task_page(task, split, replay(database, task), runs, tool_kinds))
        if len(chunk) == CHUNK_TASKS or position == len(tasks) - 1:
            number = position // CHUNK_TASKS
            _write_js(data / "tasks" / domain / f"{number}.js", f"tasks/{domain}/{number}", chunk)
            chunk = []
        actions = (task.evaluation_criteria.actions if task.evaluation_criteria else None) or []
        kept = task.verification.verdict == "kept"
        kind = task_kind(task)
        if kept:
            sequences[tuple(action.name for action in actions)] += 1
            kinds[kind] += 1
        columns["id"].append(task.id)
        columns["kept"].append(int(kept))
        columns["split"].append(code("split", split or "—"))
        columns["difficulty"].append(code("difficulty", task.difficulty))
        columns["kind"].append(code("kind", kind))
        reason = task.verification.reasons[0].check if task.verification.reasons else "—"
        columns["reason"].append(code("reason", reason))
        columns["preference"].append(code("preference", preference_label(task)))
        writes = sorted({action.name for action in actions if tool_kinds.get(action.name) == "write"})
        columns["writes"].append([code("tool", name) for name in writes])
        columns["rollouts"].append(len(runs))
        text.append(search_text(task))
    kept_count = sum(columns["kept"])
    index = {
        "domain": domain,
        "chunk_tasks": CHUNK_TASKS,
        "columns": columns,
        "values": {column: list(values) for column, values in codes.items()},
    }
    diversity = {
        "distinct_action_sequences": len(sequences),
        "distinct_sequence_share": round(len(sequences) / max(kept_count, 1), 4),
        "most_common_sequence_share": round(max(sequences.values(), default=0) / max(kept_count, 1), 4),
    }
    return {
        "domain": domain,
        "inputs": inputs,
        "index": index,
        "text": text,
        "kept": kept_count,
        "rejected": len(tasks) - kept_count,
        "kinds": dict(sorted(kinds.items())),
        "diversity": diversity,
    }


def _summary(stats: Mapping[str, Any], results: Mapping[str, Mapping[str, Any]], labels: Sequence[Any]) -> dict[str, Any]:
    domains = {}
    for name, figures in sorted(stats["domains"].items()):
        result = results[name]
        domains[name] = {
            **{key: figures.get(key) for key in ("tasks", "rejected", "funnel", "difficulty", "writes_per_task", "tool_usage")},
            "multi_write_share": figures.get("multi_write_share"),
            "coverage": figures.get("coverage"),
            "kinds": result["kinds"],
            "diversity": result["diversity"],
            "listed": {"kept": result["kept"], "rejected": result["rejected"]},
        }
    return {
        "run": stats.get("run"),
        "seed": stats.get("seed"),
        "tasks": stats.get("tasks"),
        "stages": list(FUNNEL_STAGES),
        "checks": list(ALL_CHECKS),
        "review": review_counts(labels),
        "domains": domains,
    }


def _write_js(path: Path, name: str, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # "</" inside a script would end it early if the chunk were ever inlined; escaped it reads the same.
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).replace("</", "<\\/")
    path.write_text(f"ReviewData.receive({json.dumps(name)},{body});\n", encoding="utf-8")


def _write_static(site: Path, output: Path, domains: Sequence[str]) -> None:
    assets = resources.files("toolscale.review") / "assets"
    for name in ASSETS:
        target = site / name if name == "index.html" else site / "assets" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((assets / name).read_bytes())
    funnel = output / "stats" / "funnel.png"
    if funnel.exists():
        shutil.copyfile(funnel, site / "assets" / "funnel.png")
    markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
    for domain in domains:
        policy = domain_dir(domain) / "policy.md"
        body = markdown.render(policy.read_text(encoding="utf-8")) if policy.exists() else "<p>This domain has no policy.</p>"
        page = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{domain} policy · ToolScale review</title>'
            '<link rel="stylesheet" href="../assets/review.css"></head>'
            '<body class="policy"><header class="bar"><a href="../index.html">← ToolScale review</a></header>'
            f'<main class="prose">{body}</main></body></html>\n'
        )
        (site / "policies").mkdir(parents=True, exist_ok=True)
        (site / "policies" / f"{domain}.html").write_text(page, encoding="utf-8")
