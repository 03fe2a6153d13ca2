"""`toolscale synth`: synthesize and verify a domain's tasks into kept/rejected JSONL and stats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from toolscale.atomic import write_atomically
from toolscale.domain.loader import domain_dir, load_domain
from toolscale.engine.database import DomainDatabase
from toolscale.populate.stage import default_size, populate
from toolscale.settings import load_settings
from toolscale.tasks.grammar import GRAMMAR_FILE, load_grammar
from toolscale.tasks.preference import SynthesisConfig
from toolscale.tasks.run import FUNNEL_STAGES, jsonl, synthesize_domain


def _config(path: Path | None) -> SynthesisConfig:
    if path is None:
        return SynthesisConfig()
    return load_settings(path, SynthesisConfig)


def run_synth(
    domain: Annotated[str, typer.Option(help="Domain name, a folder of domains/.")],
    out: Annotated[Path, typer.Option(help="Folder for kept.jsonl, rejected.jsonl and stats.json.")],
    count: Annotated[int, typer.Option(min=1, help="Verified tasks to keep.")] = 1000,
    max_candidates: Annotated[int | None, typer.Option(help="Give up after this many candidates (default: 3 x count).")] = None,
    seed: Annotated[int, typer.Option(help="Synthesis seed; same database, config and seed give the same records.")] = 0,
    db: Annotated[Path | None, typer.Option(help="A database from `toolscale populate`; default: populate one now.")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML synthesis config (writes mix, pricing, preference).")] = None,
    max_near_duplicate_share: Annotated[
        float, typer.Option(min=0, max=1, help="Cap on kept tasks sharing writes and wording (values aside) with another.")
    ] = 0.2,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Synthesize candidates, verify each, write kept and rejected records and the funnel."""
    spec = load_domain(domain)
    grammar = load_grammar(domain_dir(domain) / GRAMMAR_FILE, spec)
    database = DomainDatabase.load(spec, db) if db is not None else populate(spec, default_size(spec), seed=0)
    limit = max_candidates if max_candidates is not None else 3 * count
    result = synthesize_domain(
        database,
        grammar,
        _config(config),
        seed=seed,
        indices=range(limit),
        kept_target=count,
        max_near_duplicate_share=max_near_duplicate_share,
        progress=progress,
    )
    stats = result.stats({tool.name: tool.kind for tool in spec.tools})
    write_atomically(out / "kept.jsonl", jsonl(result.kept))
    write_atomically(out / "rejected.jsonl", jsonl(result.rejected))
    write_atomically(out / "stats.json", json.dumps(stats, indent=2, sort_keys=True) + "\n")
    width = max(len(stage) for stage in FUNNEL_STAGES)
    typer.echo(f"{domain}: funnel (candidates dropped at each stage)")
    for stage in FUNNEL_STAGES:
        typer.echo(f"  {stage:<{width}} {result.funnel[stage]:>7,}")
    coverage = stats["coverage"]
    typer.echo(
        f"  multi-write share {stats['multi_write_share']:.0%}; difficulty {stats['difficulty']}; "
        f"writes used {len(coverage['write']['used'])}/{len(coverage['write']['used']) + len(coverage['write']['unused'])}, "
        f"reads used {len(coverage['read']['used'])}/{len(coverage['read']['used']) + len(coverage['read']['unused'])}"
    )
    typer.echo(f"wrote {out}/kept.jsonl ({len(result.kept):,}), rejected.jsonl ({len(result.rejected):,}), stats.json")
    if len(result.kept) < count:
        typer.echo(f"{domain}: only {len(result.kept):,} of {count:,} tasks verified within {limit:,} candidates", err=True)
        raise typer.Exit(1)
