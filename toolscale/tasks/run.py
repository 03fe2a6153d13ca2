"""Synthesize and verify a domain's tasks: records for kept and rejected candidates, and the funnel."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sized
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from pydantic import BaseModel
from tqdm import tqdm

from toolscale.engine.database import DomainDatabase, spec_fingerprint
from toolscale.tasks.ambiguity import grammar_words
from toolscale.tasks.assemble import task_record
from toolscale.tasks.checks import CHECKS
from toolscale.tasks.grammar import TaskGrammar
from toolscale.tasks.near_duplicates import NearDuplicateCap, near_duplicate_detail, task_key
from toolscale.tasks.preference import SynthesisConfig
from toolscale.tasks.record import REVIEWER_FLAGGED, DatabaseRef, Provenance, ToolScaleTask, rejected_as
from toolscale.tasks.synthesize import Synthesizer
from toolscale.tasks.verify import Verifier

NO_GOAL = "no_goal"  # the drawn caller had nothing the grammar's goals could do
FUNNEL_STAGES = ("generated", NO_GOAL, *CHECKS, REVIEWER_FLAGGED, "kept")


@dataclass(frozen=True)
class SynthesisResult:
    kept: list[ToolScaleTask]
    rejected: list[ToolScaleTask]
    funnel: dict[str, int]  # candidates per stage: generated, then the first reason each was dropped, then kept

    def stats(self, spec_tools: dict[str, str]) -> dict[str, Any]:
        """Counts a data engineer checks a run against: funnel, difficulty, writes, tool coverage."""
        used = Counter(action.name for task in self.kept for action in task.actions)
        writes = Counter(sum(spec_tools[action.name] == "write" for action in task.actions) for task in self.kept)
        coverage = {
            kind: {
                "used": sorted(name for name, tool_kind in spec_tools.items() if tool_kind == kind and name in used),
                "unused": sorted(name for name, tool_kind in spec_tools.items() if tool_kind == kind and name not in used),
            }
            for kind in ("write", "read")
        }
        return {
            "funnel": self.funnel,
            "difficulty": dict(sorted(Counter(task.difficulty for task in self.kept).items())),
            "writes_per_task": {str(count): writes[count] for count in sorted(writes)},
            "multi_write_share": round(sum(n for count, n in writes.items() if count >= 2) / max(len(self.kept), 1), 4),
            "tool_usage": dict(sorted(used.items())),
            "coverage": coverage,
        }


def synthesize_domain(
    database: DomainDatabase,
    grammar: TaskGrammar,
    config: SynthesisConfig,
    *,
    seed: int,
    indices: Iterable[int],
    kept_target: int | None = None,
    max_near_duplicate_share: float | None = None,
    progress: bool = False,
) -> SynthesisResult:
    """Candidates `indices` of run `seed`, in order: each synthesized, verified and made a record.

    With `kept_target`, stops as soon as that many are kept (indices are then usually open-ended).
    With `max_near_duplicate_share`, near-duplicates are capped at that share of the tasks wanted
    (`kept_target`, else every index), as the pipeline's export caps them.
    """
    spec = database.spec
    synthesizer = Synthesizer(database, grammar, config)
    reference = DatabaseRef(
        size=int(database.provenance.get("size", -1)),
        seed=int(database.provenance.get("seed", -1)),
        state_hash=database.state_hash,
    )
    funnel = Counter({stage: 0 for stage in FUNNEL_STAGES})
    kept: list[ToolScaleTask] = []
    rejected: list[ToolScaleTask] = []
    toolscale_version, fingerprint = version("toolscale"), spec_fingerprint(spec)
    candidates = synthesizer.synthesize(seed, indices)
    total = kept_target if kept_target is not None else len(indices) if isinstance(indices, Sized) else None
    tool_kinds: dict[str, str] = {tool.name: tool.kind for tool in spec.tools}
    near = None if max_near_duplicate_share is None or total is None else NearDuplicateCap(total, max_near_duplicate_share)
    progress_bar = tqdm(total=total, desc=f"synth {spec.name}", unit="kept" if kept_target else "task", disable=not progress)
    with Verifier(database, grammar_words(grammar)) as verifier, progress_bar as bar:
        for task in candidates:
            bar.update(1 if kept_target is None else 0)
            funnel["generated"] += 1
            if task is None:
                funnel[NO_GOAL] += 1
                continue
            verdict = verifier.verify(task.candidate)
            provenance = Provenance(
                seed=seed, index=task.index, backend="template", toolscale_version=toolscale_version, spec_fingerprint=fingerprint
            )
            record = task_record(task, verdict, domain=spec.name, database=reference, provenance=provenance)
            if verdict.kept and near is not None:
                key = task_key(record, tool_kinds)
                if not near.admit(key, record.id):
                    record = rejected_as(record, "near_duplicate", near_duplicate_detail(near.first_of(key)))
            if record.verification.verdict == "kept":
                funnel["kept"] += 1
                kept.append(record)
                if kept_target is not None:
                    bar.update(1)
                    if len(kept) >= kept_target:
                        break
            else:
                funnel[record.verification.reasons[0].check] += 1
                rejected.append(record)
    return SynthesisResult(kept, rejected, dict(funnel))


def jsonl(records: Iterable[BaseModel]) -> str:
    return "".join(record.model_dump_json() + "\n" for record in records)
