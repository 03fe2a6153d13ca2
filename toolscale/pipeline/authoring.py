"""The pipeline's first stage for `domains:` entries with `describe:`: write each such domain with its model
(`toolscale domain new`), in parallel across entries, before the run plans any domain.

A domain already in domains/ is used as it is (a rerun writes nothing and asks no model); one written from
another description is refused. Replies are cached by the LLM layer in the output folder's work/authoring/,
so a run that failed later, or an interrupted one, asks the model only what it has not answered yet.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from toolscale.atomic import write_atomically
from toolscale.authoring.author import AUTHORING_DIR, CONVERSATION_FILE, REPORT_FILE, AuthoringSettings, author_domain
from toolscale.domain.loader import DOMAINS_DIR
from toolscale.errors import ToolScaleError
from toolscale.llm.factory import make_client
from toolscale.pipeline.config import DomainRun, RunConfig

AUTHORING_WORK = Path("work") / "authoring"  # under the output folder: the LLM cache and failed runs' reports


def described(config: RunConfig) -> list[DomainRun]:
    return [domain for domain in config.domains if domain.describe is not None]


def author_described_domains(config: RunConfig, domains_dir: Path = DOMAINS_DIR) -> list[str]:
    """Write the `describe:` domains domains_dir lacks; the names written. Raises naming each that failed."""
    todo = []
    for domain in described(config):
        folder = domains_dir / domain.name
        if not folder.exists():
            todo.append(domain)
            continue
        report = folder / AUTHORING_DIR / REPORT_FILE
        written_from = json.loads(report.read_text(encoding="utf-8"))["description"] if report.is_file() else None
        if written_from != domain.describe:
            raise ToolScaleError(
                f"domains: {domain.name}: {folder} exists and was not written from this description; "
                "give the new domain another name, or remove the folder to write it again"
            )
    if not todo:
        return []
    with ThreadPoolExecutor(max_workers=len(todo)) as pool:
        failures = [failure for failure in pool.map(lambda run: _author(config, run, domains_dir), todo) if failure]
    if failures:
        raise ToolScaleError("\n".join(failures))
    return [domain.name for domain in todo]


def _author(config: RunConfig, run: DomainRun, domains_dir: Path) -> str | None:
    """Write one domain; None, or the line that says why it failed."""
    assert run.describe is not None
    assert run.llm is not None  # the config requires one beside `describe`
    work = config.output_dir / AUTHORING_WORK
    settings = AuthoringSettings(name=run.name, describe=run.describe, clock=run.clock, seed=config.seed)
    client = make_client(run.llm, cache_path=work / "llm-cache.sqlite")
    try:
        result = author_domain(client, settings, domains_dir)
    finally:
        client.close()
    if result.report.passed:
        return None
    folder = work / run.name
    write_atomically(folder / REPORT_FILE, result.report.json_text())
    write_atomically(folder / CONVERSATION_FILE, result.conversation_text())
    failed = result.report.failed_stage()
    why = f"stage {failed.stage!r}: {failed.detail}" if failed else "not finished"
    return f"domains: {run.name}: not written ({why}); the report and the conversation are in {folder}"
