"""The review site on the default output (10,000 kept tasks) and on 100,000 tasks: build time, and in headless
Chromium the time until the index is interactive and until a filter, a search and a task page have rendered,
all measured by the browser's own clock (performance marks and performance.now()).

`python -m benchmarks.review [OUTPUT]`: OUTPUT is a finished default run (else one is made in a temporary
folder). The 100,000-task output repeats the default output's tasks ten times under new ids (seed k for
copy k), each copy replayed and written like any task.
"""

from __future__ import annotations

import resource
import statistics
import sys
import tempfile
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from toolscale.pipeline.config import load_run_config
from toolscale.pipeline.run import run_pipeline
from toolscale.review.browser import chromium
from toolscale.review.site import build_site

CONFIG = Path("pipelines/default.yaml")
LOADS = 3  # page loads per figure; the median is reported
COPIES = 10

_FILTER = """async ([facet, text]) => {
  const select = document.querySelector('#filter-' + facet);
  const option = [...select.options].find((o) => o.textContent.startsWith(text));
  const start = performance.now();
  select.value = option.value;
  select.dispatchEvent(new Event('change'));
  await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  return [performance.now() - start, document.querySelector('#result-count').textContent];
}"""
_SEARCH = """async (query) => {
  const box = document.querySelector('#search');
  const start = performance.now();
  box.value = query;
  box.dispatchEvent(new Event('input'));
  while (document.querySelector('.result-line').textContent.includes('loading')) await new Promise((d) => setTimeout(d, 5));
  await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  return [performance.now() - start, document.querySelector('#result-count').textContent];
}"""
_OPEN_TASK = """async (id) => {
  const start = performance.now();
  location.hash = '#task/' + id;
  while (!document.querySelector(`#task-page[data-task="${id}"]`)) await new Promise((d) => setTimeout(d, 2));
  await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  return performance.now() - start;
}"""


def browser_figures(site: Path, task_id: str) -> dict[str, float]:
    interactive, filtered, searched, opened = [], [], [], []
    with chromium() as context:
        for _ in range(LOADS):
            page = context.new_page()
            page.goto((site / "index.html").as_uri())
            page.wait_for_selector("body[data-ready=true]", timeout=60_000)
            interactive.append(page.evaluate("performance.getEntriesByName('review-interactive')[0].startTime"))
            filtered.append(page.evaluate(_FILTER, ["verdict", "rejected"])[0])
            searched.append(page.evaluate(_SEARCH, "card")[0])
            opened.append(page.evaluate(_OPEN_TASK, task_id))
            page.close()
    return {
        "interactive": statistics.median(interactive),
        "filter": statistics.median(filtered),
        "search": statistics.median(searched),
        "task": statistics.median(opened),
    }


def repeated_output(source: Path, target: Path, copies: int) -> None:
    """`source`'s shards `copies` times over, copy k's ids under seed k; stats and databases as they are."""
    target.mkdir(parents=True)
    for name in ("stats.json", "README.md"):
        (target / name).write_bytes((source / name).read_bytes())
    (target / "databases").mkdir(parents=True)
    for database in (source / "databases").glob("*.sqlite"):
        (target / "databases" / database.name).symlink_to(database.resolve())
    for shard in [*(source / "data").glob("*/*.parquet"), *(source / "rejected").glob("*.parquet")]:
        table = pq.read_table(shard)
        prefix, number, rest = shard.name.split("-", 2)  # train-00000-of-00001.parquet, bank-00000-of-00001.parquet
        for copy in range(copies):
            ids = pc.replace_substring_regex(table.column("id"), pattern=r"^(.*)-0-", replacement=rf"\1-{copy}-")
            path = target / shard.parent.relative_to(source) / f"{prefix}-{number}{copy:02d}-{rest}"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table.set_column(table.schema.get_field_index("id"), "id", ids), path)


def report(label: str, output: Path, site: Path) -> None:
    before = _cpu_seconds()
    summary = build_site(output, site)
    cpu = _cpu_seconds() - before
    megabytes = sum(path.stat().st_size for path in site.rglob("*") if path.is_file()) / 1e6
    index_kb = sum(path.stat().st_size for path in (site / "data" / "index").glob("*.js")) / 1e3
    print(
        f"  {label}: {summary.kept:,} kept + {summary.rejected:,} rejected; build {summary.seconds:.1f} s ({cpu:.1f} s CPU), "
        f"{summary.files:,} files, {megabytes:.0f} MB ({index_kb:,.0f} kB loaded for the index)"
    )
    first = next((site / "data" / "tasks").glob("*/0.js"))
    task_id = first.read_text(encoding="utf-8").split('"id":"', 1)[1].split('"', 1)[0]
    again = build_site(output, site)
    print(f"    rebuild with nothing changed: {again.seconds:.1f} s ({again.rebuilt} domains made again)")
    figures = browser_figures(site, task_id)
    print(
        f"    Chromium (median of {LOADS}): index interactive {figures['interactive']:.0f} ms, "
        f"filter {figures['filter']:.0f} ms, first search (loads the text) {figures['search']:.0f} ms, "
        f"task page {figures['task']:.0f} ms"
    )


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the build's worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    print("review site: build time, then the browser's own timing of the index, a filter, a search and a task page")
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        if len(sys.argv) > 1:
            output = Path(sys.argv[1])
        else:
            output = work / "output"
            run_pipeline(load_run_config(CONFIG).model_copy(update={"output_dir": output}), progress=False)
        report("default output", output, work / "site")
        large = work / "large"
        repeated_output(output, large, COPIES)
        report(f"{COPIES}x the default output", large, work / "large-site")


if __name__ == "__main__":
    main()
