"""A pipeline run: databases, then synthesis units, then each domain's export, resumable at every unit.

Layout of the output directory:
  data/<domain>/<split>-0000i-of-0000n.parquet   kept tasks (the dataset)
  rejected/<domain>-0000i-of-0000n.parquet       rejected candidates with reasons and traces
  stats/<domain>.json, stats.json, README.md     run stats and the dataset card
  databases/<domain>.sqlite                      the populated databases tasks run on
  work/<domain>/unit-0000k.parquet, manifest.json  finished units, for resuming
  llm-cache.sqlite                               a model's answers, when one writes (resuming asks none again)
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from toolscale.atomic import write_atomically
from toolscale.data.card import dataset_card
from toolscale.data.export import write_files
from toolscale.data.labels import LABELS_FILE, LabelError, flagged_digest, flagged_notes, read_labels, review_counts
from toolscale.data.plots import funnel_png
from toolscale.domain.loader import load_domain
from toolscale.errors import ToolScaleError
from toolscale.llm.types import StageUsage
from toolscale.pipeline.authoring import author_described_domains, described
from toolscale.pipeline.config import DomainRun, PipelineLLM, RunConfig, fingerprint
from toolscale.pipeline.executor import RayExecutor
from toolscale.pipeline.manifest import (
    MANIFEST_FILE,
    DomainExportEntry,
    DomainState,
    Manifest,
    intact,
    load_manifest,
    save_manifest,
    sha256_file,
)
from toolscale.pipeline.ownership import LLM_CACHE_FILE, UNIT_FILE, check_output_folder, leftovers, strangers
from toolscale.pipeline.stages import DomainExport, export_stage, populate_stage, synthesis_inputs_digest, synthesize_unit
from toolscale.populate.stage import default_size
from toolscale.tasks.prompting import llm_prompts_digest
from toolscale.tasks.run import funnel_stages

EXPECTED_KEPT_SHARE = 0.85  # plans units for this share of candidates kept; more units follow if short


class PipelineError(ToolScaleError, RuntimeError):
    pass


@dataclass
class RunSummary:
    tasks: dict[str, int] = field(default_factory=dict)  # kept tasks per domain exported by this or an earlier run
    units_run: int = 0
    databases_built: int = 0
    domains_exported: int = 0
    seconds: float = 0.0
    failed: dict[str, str] = field(default_factory=dict)
    llm: dict[str, StageUsage] = field(default_factory=dict)  # per stage, what this run sent a model and found cached

    @property
    def did_work(self) -> bool:
        return bool(self.units_run or self.databases_built or self.domains_exported)


@dataclass(frozen=True)
class _Domain:
    name: str
    size: int
    tasks: int
    fingerprint: str
    export_fingerprint: str
    max_units: int
    flagged: dict[str, str]  # kept tasks a reviewer flagged, with their notes: the export drops them


class _Run:
    def __init__(self, config: RunConfig, executor: RayExecutor) -> None:
        self.config, self.executor = config, executor
        self.out = config.output_dir
        self.manifest_path = self.out / MANIFEST_FILE
        self.summary = RunSummary()
        try:
            self.labels = read_labels(self.out / LABELS_FILE)
        except LabelError as error:
            raise PipelineError(str(error)) from error
        self.flagged = flagged_notes(self.labels)

    def database_path(self, domain: str) -> Path:
        return self.out / "databases" / f"{domain}.sqlite"

    def unit_path(self, domain: str, unit: int) -> Path:
        return self.out / "work" / domain / f"unit-{unit:05d}.parquet"

    def plan(self, run: DomainRun) -> _Domain:
        config = self.config
        size = run.size if run.size is not None else default_size(load_domain(run.name))
        tasks = config.tasks_for(run)
        units_fingerprint = fingerprint(
            run.name,
            str(size),
            str(config.seed),
            synthesis_inputs_digest(run.name),
            config.synthesis.model_dump_json(),
            _writer_fingerprint(config.llm),
            str(config.unit_candidates),
            version("toolscale"),
        )
        flagged = {task: note for task, note in self.flagged.items() if task.startswith(f"{run.name}-")}
        export_fingerprint = fingerprint(
            units_fingerprint,
            str(tasks),
            str(config.shard_size),
            json.dumps(config.splits),
            str(config.max_near_duplicate_share),
            flagged_digest(flagged),
        )
        max_units = math.ceil(tasks * config.max_candidates_factor / config.unit_candidates)
        return _Domain(run.name, size, tasks, units_fingerprint, export_fingerprint, max_units, flagged)

    # --- the stages -------------------------------------------------------------------------------

    def execute(self, domains: Sequence[_Domain]) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        names = [domain.name for domain in domains]
        for leftover in leftovers(self.out, names):  # an interrupted atomic write of ours
            leftover.unlink()
        manifest = load_manifest(self.manifest_path)
        unrecorded = strangers(self.out, manifest, names)
        if unrecorded:
            listed = ", ".join(unrecorded[:5]) + (f" and {len(unrecorded) - 5} more" if len(unrecorded) > 5 else "")
            raise PipelineError(
                f"{self.out}: {listed}: not written by this pipeline (not in {MANIFEST_FILE}); readers would load "
                "them with the dataset, so move them out of the output folder"
            )
        for domain in domains:
            state = manifest.domains.get(domain.name)
            if state is None or state.fingerprint != domain.fingerprint:
                self._discard_units(domain.name)
                units = math.ceil(domain.tasks / EXPECTED_KEPT_SHARE / self.config.unit_candidates)
                planned = min(units, domain.max_units)
                # The old export's files stay recorded until the new export replaces them.
                published = sorted({*state.pending, *(state.export.files if state.export else ())}) if state else []
                manifest.domains[domain.name] = DomainState(
                    fingerprint=domain.fingerprint, planned_units=planned, pending=published
                )
        todo = [domain for domain in domains if not self._exported(manifest.domains[domain.name], domain)]
        self._populate(manifest, todo)
        while todo:
            self._synthesize(manifest, todo)
            todo = self._export(manifest, todo)
        self._write_summary_files(manifest)

    def _discard_units(self, domain: str) -> None:
        """Units of another configuration: the unit files in the domain's work folder, nothing else there."""
        work = self.out / "work" / domain
        if work.is_dir():
            for path in work.iterdir():
                if UNIT_FILE.fullmatch(path.name):
                    path.unlink()

    def _populate(self, manifest: Manifest, domains: Sequence[_Domain]) -> None:
        needed = [d for d in domains if not intact(self.database_path(d.name), manifest.domains[d.name].database)]
        calls = [(d.name, d.size, self.config.seed) for d in needed]
        for position, image in self.executor.map(populate_stage, calls, description="populate", names=[d.name for d in needed]):
            domain = needed[position]
            write_atomically(self.database_path(domain.name), image)
            manifest.domains[domain.name].database = sha256_file(self.database_path(domain.name))
            save_manifest(self.manifest_path, manifest)
            self.summary.databases_built += 1

    def _synthesize(self, manifest: Manifest, domains: Sequence[_Domain]) -> None:
        units = [
            (domain, unit)
            for domain in domains
            for unit in range(manifest.domains[domain.name].planned_units)
            if not intact(self.unit_path(domain.name, unit), manifest.domains[domain.name].units.get(unit))
        ]
        size = self.config.unit_candidates
        llm = self.config.llm if self.config.llm.backend != "template" else None
        cache = str((self.out / LLM_CACHE_FILE).resolve()) if llm is not None else None
        calls = [
            (
                domain.name,
                str(self.database_path(domain.name).resolve()),
                manifest.domains[domain.name].database,
                self.config.synthesis,
                self.config.seed,
                unit * size,
                size,
                llm,
                cache,
            )
            for domain, unit in units
        ]
        names = [f"{domain.name} unit {unit}" for domain, unit in units]
        for position, (data, sent) in self.executor.map(synthesize_unit, calls, description="synthesize", names=names):
            domain, unit = units[position]
            self._count_llm(sent)
            path = self.unit_path(domain.name, unit)
            write_atomically(path, data)
            manifest.domains[domain.name].units[unit] = sha256_file(path) or ""
            save_manifest(self.manifest_path, manifest)
            self.summary.units_run += 1

    def _count_llm(self, sent: dict[str, StageUsage]) -> None:
        for stage, usage in sent.items():
            before = self.summary.llm.get(stage, StageUsage())
            self.summary.llm[stage] = StageUsage.model_validate(
                {name: getattr(before, name) + getattr(usage, name) for name in StageUsage.model_fields}
            )

    def _export(self, manifest: Manifest, domains: Sequence[_Domain]) -> list[_Domain]:
        """Exports every domain with enough tasks; returns those that need more units."""
        calls = [
            (
                domain.name,
                str(self.database_path(domain.name).resolve()),
                manifest.domains[domain.name].database,
                [str(self.unit_path(domain.name, unit).resolve()) for unit in range(manifest.domains[domain.name].planned_units)],
                domain.tasks,
                dict(self.config.splits),
                self.config.shard_size,
                self.config.max_near_duplicate_share,
                domain.flagged,
                self.config.llm,
            )
            for domain in domains
        ]
        short = []
        results: dict[int, DomainExport] = dict(
            self.executor.map(export_stage, calls, description="export", names=[d.name for d in domains])
        )
        for position, domain in enumerate(domains):
            result, state = results[position], manifest.domains[domain.name]
            if result.missing:
                if state.planned_units >= domain.max_units:
                    self.summary.failed[domain.name] = (
                        f"only {domain.tasks - result.missing:,} of {domain.tasks:,} tasks verified within "
                        f"{state.planned_units * self.config.unit_candidates:,} candidates (max_candidates_factor)"
                    )
                    continue
                per_unit = EXPECTED_KEPT_SHARE * self.config.unit_candidates
                state.planned_units = min(domain.max_units, state.planned_units + math.ceil(result.missing / per_unit))
                short.append(domain)
                continue
            self._write_export(manifest, domain, state, result)
        save_manifest(self.manifest_path, manifest)
        return short

    def _write_export(self, manifest: Manifest, domain: _Domain, state: DomainState, result: DomainExport) -> None:
        stats_file = f"stats/{domain.name}.json"
        files = result.files | {stats_file: (json.dumps(result.stats, indent=2, sort_keys=True) + "\n").encode("utf-8")}
        # Recorded before they are written; the previous export's files that this one does not replace
        # are the only files removed.
        previous = {*state.pending, *(state.export.files if state.export else ())}
        state.pending, state.export = sorted(previous | set(files)), None
        save_manifest(self.manifest_path, manifest)
        for stale in sorted(previous - set(files)):
            (self.out / stale).unlink(missing_ok=True)
        write_files(self.out, files)
        state.export = DomainExportEntry(
            fingerprint=domain.export_fingerprint,
            files={relative: sha256_file(self.out / relative) or "" for relative in sorted(files)},
            counts=result.counts,
            rejected=result.rejected,
            stats=result.stats,
        )
        state.pending = []
        self.summary.domains_exported += 1

    def _exported(self, state: DomainState, domain: _Domain) -> bool:
        """Finished means verified: the export of this configuration, every file of it and the database
        as recorded."""
        export = state.export
        return (
            export is not None
            and export.fingerprint == domain.export_fingerprint
            and intact(self.database_path(domain.name), state.database)
            and all(intact(self.out / relative, digest) for relative, digest in export.files.items())
        )

    def _write_summary_files(self, manifest: Manifest) -> None:
        """Card, stats.json and funnel plot over every domain exported into this directory (by this run or earlier ones)."""
        exports = {name: state.export for name, state in sorted(manifest.domains.items()) if state.export is not None}
        self.summary.tasks = {name: sum(export.counts.values()) for name, export in exports.items()}
        funnels = {name: export.stats["funnel"] for name, export in exports.items()}
        stages = funnel_stages(any("llm" in export.stats for export in exports.values()))
        card = dataset_card(
            self.config.name,
            counts={name: export.counts for name, export in exports.items()},
            rejected={name: export.rejected for name, export in exports.items()},
            funnels=funnels,
            stages=stages,
            review=review_counts(self.labels),
            content=fingerprint(*(f"{path}={digest}" for export in exports.values() for path, digest in export.files.items())),
            figures={name: export.stats.get("figures", {}) for name, export in exports.items()},
            written={name: export.stats for name, export in exports.items() if "llm" in export.stats},
        )
        stats = {
            "run": self.config.name,
            "seed": self.config.seed,
            "tasks": sum(self.summary.tasks.values()),
            "review": review_counts(self.labels),
            "domains": {
                name: {"tasks": export.counts, "rejected": export.rejected, **export.stats} for name, export in exports.items()
            },
        }
        written = [export.stats["llm"] for export in exports.values() if "llm" in export.stats]
        if written:
            stats["llm"] = _llm_totals(written)
        summaries = {
            "README.md": card.encode("utf-8"),
            "stats.json": (json.dumps(stats, indent=2, sort_keys=True) + "\n").encode("utf-8"),
            "stats/funnel.png": funnel_png(funnels, stages),
        }
        write_files(self.out, summaries)


def _llm_totals(per_domain: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Over every domain: per `backend:model`, then per stage, the sums of the domains' figures."""
    totals: dict[str, dict[str, dict[str, float]]] = {}
    for llm in per_domain:
        model = totals.setdefault(f"{llm['backend']}:{llm['model']}", {})
        for stage, usage in llm["stages"].items():
            into = model.setdefault(stage, dict.fromkeys(usage, 0))
            for name, amount in usage.items():
                into[name] = round(into[name] + amount, 6) if name == "cost_usd" else into[name] + amount
    return totals


def _writer_fingerprint(llm: PipelineLLM) -> str:
    """What a model's part changes in the units: the model, how it is asked and the prompts. Not where it
    is served, nor its limits, retries or timeouts (the same model elsewhere writes the same tasks)."""
    if llm.backend == "template":
        return "template"
    asked = llm.model_dump(
        include={"backend", "model", "response_format", "temperature", "max_tokens", "max_repairs", "rewrite", "proposed_share"}
    )
    return json.dumps(asked, sort_keys=True) + llm_prompts_digest()


def run_pipeline(
    config: RunConfig,
    *,
    only: Sequence[str] | None = None,
    address: str | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> RunSummary:
    """Runs (or resumes, or confirms finished) the config's domains, or only those named in `only`."""
    unknown = sorted(set(only or ()) - {domain.name for domain in config.domains})
    if unknown:
        raise PipelineError(f"not in the run config's domains: {', '.join(unknown)}")
    check_output_folder(config.output_dir)
    start = time.perf_counter()
    if described(config):
        # The folder becomes a pipeline output before the first file (the LLM cache) is written into it.
        manifest_path = config.output_dir / MANIFEST_FILE
        save_manifest(manifest_path, load_manifest(manifest_path))
        try:
            author_described_domains(config)
        except ToolScaleError as error:
            raise PipelineError(str(error)) from error
    with RayExecutor(address, workers, progress=progress) as executor:
        run = _Run(config, executor)
        domains = [run.plan(domain) for domain in config.domains if only is None or domain.name in only]
        run.execute(domains)
    run.summary.seconds = time.perf_counter() - start
    return run.summary
