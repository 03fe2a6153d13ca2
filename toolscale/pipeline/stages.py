"""The pipeline's stages as pure functions of (config, domain, unit, seed) returning bytes and figures.

They know nothing of Ray, files or manifests: the executor runs them anywhere, the runner writes
what they return. Inputs are plain values (paths, numbers, configs) so a Ray task can ship them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from toolscale.data.export import by_split, domain_shards, parquet_bytes, read_parquet_tasks, sharded
from toolscale.data.figures import domain_figures
from toolscale.domain.loader import domain_dir, load_domain
from toolscale.engine.database import DomainDatabase, spec_fingerprint
from toolscale.populate.stage import populate
from toolscale.tasks.grammar import GRAMMAR_FILE, TaskGrammar, load_grammar
from toolscale.tasks.near_duplicates import NearDuplicateCap, near_duplicate_detail, task_key
from toolscale.tasks.preference import SynthesisConfig
from toolscale.tasks.record import ToolScaleTask, rejected_as
from toolscale.tasks.run import FUNNEL_STAGES, NO_GOAL, SynthesisResult, synthesize_domain
from toolscale.tasks.synthesize import PROMPTS_DIR
from toolscale.tasks.verify import Action, normalized_writes


def synthesis_inputs_digest(domain: str) -> str:
    """What a domain's tasks are made from besides the config: spec, task grammar and scenario templates."""
    digest = hashlib.sha256(spec_fingerprint(load_domain(domain)).encode("ascii"))
    for path in [domain_dir(domain) / GRAMMAR_FILE, *sorted(PROMPTS_DIR.glob("*.j2"))]:
        digest.update(path.name.encode("utf-8") + b"\0" + path.read_bytes())
    return digest.hexdigest()


def populate_stage(domain: str, size: int, seed: int) -> bytes:
    """The domain's database file: same spec, size and seed, same bytes."""
    return populate(load_domain(domain), size, seed).image


@lru_cache(maxsize=16)
def _database(domain: str, path: str, digest: str) -> DomainDatabase:
    """Loaded once per worker process; the digest makes a rewritten file a new entry."""
    del digest
    return DomainDatabase.load(load_domain(domain), Path(path))


@cache
def _grammar(domain: str) -> TaskGrammar:
    return load_grammar(domain_dir(domain) / GRAMMAR_FILE, load_domain(domain))


def synthesize_stage(
    domain: str, database: str, database_digest: str, synthesis: SynthesisConfig, seed: int, start: int, count: int
) -> bytes:
    """Candidates start..start+count-1 of the run, synthesized and verified: kept and rejected records
    as one Parquet file in index order (a candidate index without a record found no goal)."""
    result = synthesize_domain(
        _database(domain, database, database_digest), _grammar(domain), synthesis, seed=seed, indices=range(start, start + count)
    )
    return parquet_bytes(sorted([*result.kept, *result.rejected], key=lambda task: task.provenance.index))


@dataclass(frozen=True)
class DomainExport:
    """A domain's export: files by path relative to the dataset root, its stats, or how many tasks it lacks."""

    files: dict[str, bytes]
    stats: dict[str, Any]
    counts: dict[str, int]  # kept tasks per split
    rejected: int = 0
    missing: int = 0  # > 0: more candidate units are needed, nothing was exported


def export_stage(
    domain: str,
    database: str,
    database_digest: str,
    units: Sequence[str],
    tasks: int,
    splits: Mapping[str, float],
    shard_size: int,
    max_near_duplicate_share: float,
) -> DomainExport:
    """The first `tasks` kept tasks over the units (in candidate order), their shards, rejected shards and stats.

    Units are verified independently, so a task may repeat the writes of one kept in an earlier unit;
    it is rejected here as a duplicate naming that task. Near-duplicates (same writes, same wording
    values aside) are capped here too, where the whole domain is seen: at most `max_near_duplicate_share`
    of `tasks`. Only candidates up to the last task taken count, so the export does not depend on how
    many units were run beyond that.
    """
    loaded = _database(domain, database, database_digest)
    tool_kinds: dict[str, str] = {tool.name: tool.kind for tool in loaded.spec.tools}
    candidates = [task for unit in units for task in read_parquet_tasks(Path(unit))]
    seen: dict[str, str] = {}
    near = NearDuplicateCap(tasks, max_near_duplicate_share)
    kept: list[ToolScaleTask] = []
    rejected: list[ToolScaleTask] = []
    for task in candidates:
        if len(kept) == tasks:
            break
        if task.verification.verdict == "rejected":
            rejected.append(task)
            continue
        key = normalized_writes(loaded, [Action(action.name, action.arguments) for action in task.actions])
        if key in seen:
            rejected.append(rejected_as(task, "duplicate", f"the same writes as task {seen[key]}, verified in an earlier unit"))
            continue
        # A near-duplicate's writes count as seen all the same: a sequential pass's verifier saw them too.
        seen[key] = task.id
        near_key = task_key(task, tool_kinds)
        if not near.admit(near_key, task.id):
            rejected.append(rejected_as(task, "near_duplicate", near_duplicate_detail(near.first_of(near_key))))
            continue
        kept.append(task)
    if len(kept) < tasks:
        return DomainExport(files={}, stats={}, counts={}, missing=tasks - len(kept))
    last_index = kept[-1].provenance.index
    result = SynthesisResult(kept, rejected, _funnel(last_index + 1, kept, rejected))
    groups = by_split(kept, splits)
    files = domain_shards(domain, groups, shard_size) | sharded(f"rejected/{domain}", rejected, shard_size)
    counts = {split: len(members) for split, members in groups.items()}
    stats = result.stats(tool_kinds) | {"figures": domain_figures(kept, tool_kinds)}
    return DomainExport(files=files, stats=stats, counts=counts, rejected=len(rejected))


def _funnel(candidates: int, kept: Sequence[ToolScaleTask], rejected: Sequence[ToolScaleTask]) -> dict[str, int]:
    funnel = dict.fromkeys(FUNNEL_STAGES, 0)
    funnel["generated"] = candidates
    funnel[NO_GOAL] = candidates - len(kept) - len(rejected)
    for task in rejected:
        funnel[task.verification.reasons[0].check] += 1
    funnel["kept"] = len(kept)
    return funnel
