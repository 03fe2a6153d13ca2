"""The pipeline's stages as pure functions of (config, domain, unit, seed) returning bytes and figures.

They know nothing of Ray, files or manifests: the executor runs them anywhere, the runner writes
what they return. Inputs are plain values (paths, numbers, configs) so a Ray task can ship them.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from toolscale.data.export import by_split, domain_shards, parquet_bytes, parquet_metadata, read_parquet_tasks, sharded
from toolscale.data.figures import domain_figures
from toolscale.domain.loader import domain_dir, load_domain
from toolscale.engine.database import DomainDatabase, spec_fingerprint
from toolscale.llm.types import StageUsage
from toolscale.llm.usage import Price
from toolscale.pipeline.config import PipelineLLM
from toolscale.populate.stage import populate
from toolscale.tasks.catalog import llm_price
from toolscale.tasks.grammar import GRAMMAR_FILE, TaskGrammar, load_grammar
from toolscale.tasks.near_duplicates import NearDuplicateCap, near_duplicate_detail, task_key
from toolscale.tasks.preference import SynthesisConfig
from toolscale.tasks.record import REVIEWER_FLAGGED, ToolScaleTask, rejected_as
from toolscale.tasks.run import NO_GOAL, USAGE_FIELDS, LLMTasks, SynthesisResult, funnel_stages, synthesize_domain
from toolscale.tasks.synthesize import PROMPTS_DIR, SCENARIO_TEMPLATE
from toolscale.tasks.verify import Action, normalized_writes

LLM_USAGE_KEY = "toolscale.llm_usage"  # a unit file's metadata: what the model's answers behind it took


def synthesis_inputs_digest(domain: str) -> str:
    """What a domain's tasks are made from besides the config: spec, task grammar and scenario templates."""
    digest = hashlib.sha256(spec_fingerprint(load_domain(domain)).encode("ascii"))
    # The LLM's prompts are not among them: they count only when a model writes (`PipelineLLM`'s part of the run's fingerprint).
    for path in [domain_dir(domain) / GRAMMAR_FILE, PROMPTS_DIR / SCENARIO_TEMPLATE]:
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
    data, _ = synthesize_unit(domain, database, database_digest, synthesis, seed, start, count)
    return data


def synthesize_unit(
    domain: str,
    database: str,
    database_digest: str,
    synthesis: SynthesisConfig,
    seed: int,
    start: int,
    count: int,
    llm: PipelineLLM | None = None,
    cache_path: str | None = None,
) -> tuple[bytes, dict[str, StageUsage]]:
    """As `synthesize_stage`, with a model (unless `llm` is None or 'template') proposing and rewriting
    through one client whose replies are cached at `cache_path`. Returns the unit file, which carries
    what the answers took (`LLM_USAGE_KEY`), and what this call sent and found cached."""
    loaded, grammar, indices = _database(domain, database, database_digest), _grammar(domain), range(start, start + count)
    if llm is None or llm.backend == "template" or llm.model is None:
        result = synthesize_domain(loaded, grammar, synthesis, seed=seed, indices=indices)
        return parquet_bytes(_in_index_order(result)), {}
    from toolscale.llm.factory import make_client  # the openai or vllm package only where a model is used

    client = make_client(llm, cache_path=Path(cache_path) if cache_path else None, price=catalog_price(llm)[1])
    try:
        tasks = LLMTasks(client, llm.backend, llm.model, rewrite=llm.rewrite, proposed_share=llm.proposed_share)
        result = synthesize_domain(loaded, grammar, synthesis, seed=seed, indices=indices, llm=tasks)
        sent = client.usage()
    finally:
        client.close()
    usage = json.dumps(result.llm_usage, sort_keys=True)
    return parquet_bytes(_in_index_order(result), {LLM_USAGE_KEY: usage}), sent


def _in_index_order(result: SynthesisResult) -> list[ToolScaleTask]:
    return sorted([*result.kept, *result.rejected], key=lambda task: task.provenance.index)


def catalog_price(llm: PipelineLLM) -> tuple[str | None, Price | None]:
    """The catalog model whose list prices cost the tokens (`price_as`, else the model's own name), and
    those prices (`llm_price`); (None, None) for a model the catalog does not list, such as a local one."""
    price = llm_price(llm)
    return (llm.price_as or llm.model, price) if price is not None else (None, None)


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
    flagged: Mapping[str, str] | None = None,
    llm: PipelineLLM | None = None,
) -> DomainExport:
    """The first `tasks` kept tasks over the units (in candidate order), their shards, rejected shards and stats.

    Units are verified independently, so a task may repeat the writes of one kept in an earlier unit;
    it is rejected here as a duplicate naming that task. Near-duplicates (same writes, same wording
    values aside) are capped here too, where the whole domain is seen: at most `max_near_duplicate_share`
    of `tasks`. Only candidates up to the last task taken count, so the export does not depend on how
    many units were run beyond that. A kept task in `flagged` (task id -> reviewer's note) is rejected as
    `reviewer_flagged`; the next one takes its place.
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
        if flagged and task.id in flagged:
            note = flagged[task.id]
            rejected.append(
                rejected_as(task, REVIEWER_FLAGGED, f"flagged by a reviewer: {note}" if note else "flagged by a reviewer")
            )
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
    writes = llm is not None and llm.backend != "template"
    result = SynthesisResult(kept, rejected, _funnel(last_index + 1, kept, rejected, funnel_stages(writes)))
    groups = by_split(kept, splits)
    files = domain_shards(domain, groups, shard_size) | sharded(f"rejected/{domain}", rejected, shard_size)
    counts = {split: len(members) for split, members in groups.items()}
    stats = result.stats(tool_kinds) | {"figures": domain_figures(kept, tool_kinds)}
    if llm is not None and writes:
        stats |= {"llm": _llm_stats(llm, units), "proposals": _proposals_funnel(kept, rejected)}
    return DomainExport(files=files, stats=stats, counts=counts, rejected=len(rejected))


def _llm_stats(llm: PipelineLLM, units: Sequence[str]) -> dict[str, Any]:
    """Per stage, what the answers behind every unit took, and their cost at the catalog's list prices
    (0 for a model the catalog does not price, which `priced_as` None says)."""
    totals: dict[str, dict[str, int]] = {}
    for unit in units:
        for stage, counts in json.loads(parquet_metadata(Path(unit), LLM_USAGE_KEY) or "{}").items():
            into = totals.setdefault(stage, dict.fromkeys(USAGE_FIELDS, 0))
            for name in USAGE_FIELDS:
                into[name] += counts[name]
    priced_as, price = catalog_price(llm)
    stages = {
        stage: counts | {"cost_usd": round(price.cost(counts["input_tokens"], counts["output_tokens"]), 6) if price else 0.0}
        for stage, counts in sorted(totals.items())
    }
    return {"backend": llm.backend, "model": llm.model, "priced_as": priced_as, "stages": stages}


def _proposals_funnel(kept: Sequence[ToolScaleTask], rejected: Sequence[ToolScaleTask]) -> dict[str, Any]:
    """The candidates a model proposed: how many, how many kept, and the rejected by their first reason."""
    dropped = Counter(task.verification.reasons[0].check for task in rejected if task.provenance.proposed)
    taken = sum(task.provenance.proposed for task in kept)
    return {"proposed": taken + sum(dropped.values()), "kept": taken, "rejected": dict(sorted(dropped.items()))}


def _funnel(
    candidates: int, kept: Sequence[ToolScaleTask], rejected: Sequence[ToolScaleTask], stages: Sequence[str]
) -> dict[str, int]:
    funnel = dict.fromkeys(stages, 0)
    funnel["generated"] = candidates
    funnel[NO_GOAL] = candidates - len(kept) - len(rejected)
    for task in rejected:
        funnel[task.verification.reasons[0].check] += 1
    funnel["kept"] = len(kept)
    return funnel
