"""Synthesize and verify a domain's tasks: records for kept and rejected candidates, and the funnel."""

from __future__ import annotations

import dataclasses
import gc
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence, Sized
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

from pydantic import BaseModel
from tqdm import tqdm

from toolscale.engine.database import DomainDatabase, spec_fingerprint
from toolscale.llm.types import ChatReply, ChatRequest, LLMClient, LLMFailure
from toolscale.tasks.ambiguity import grammar_words
from toolscale.tasks.assemble import task_record
from toolscale.tasks.checks import CHECKS
from toolscale.tasks.grammar import TaskGrammar
from toolscale.tasks.llm_checks import LLM_CHECKS
from toolscale.tasks.near_duplicates import NearDuplicateCap, near_duplicate_detail, task_key
from toolscale.tasks.preference import SynthesisConfig
from toolscale.tasks.prompting import persona_for
from toolscale.tasks.propose import is_proposed, proposal_request, proposed_task
from toolscale.tasks.record import (
    REVIEWER_FLAGGED,
    DatabaseRef,
    Provenance,
    ToolScaleTask,
    llm_backend,
    rejected_as,
    task_id,
)
from toolscale.tasks.rewrite import rewrite_request, rewritten_task
from toolscale.tasks.synthesize import SynthesizedTask, Synthesizer
from toolscale.tasks.verify import Observed, Verifier

NO_GOAL = "no_goal"  # the drawn caller had nothing the grammar's goals could do
FUNNEL_STAGES = ("generated", NO_GOAL, *CHECKS, REVIEWER_FLAGGED, "kept")
# With a model: its checks follow the verifier's (a rewrite is checked after the template's checks passed).
LLM_FUNNEL_STAGES = ("generated", NO_GOAL, *CHECKS, *LLM_CHECKS, REVIEWER_FLAGGED, "kept")
USAGE_FIELDS = ("requests", "failures", "input_tokens", "output_tokens")


def funnel_stages(llm: bool) -> tuple[str, ...]:
    return LLM_FUNNEL_STAGES if llm else FUNNEL_STAGES


@dataclass(frozen=True)
class LLMTasks:
    """A model's part in synthesis: it proposes a share of the candidates and rewrites kept scenarios,
    each stage one batch through `client`."""

    client: LLMClient
    backend: str  # the backend's name ("openai", "vllm")
    model: str
    rewrite: bool = True
    proposed_share: float = 0.0


@dataclass(frozen=True)
class SynthesisResult:
    kept: list[ToolScaleTask]
    rejected: list[ToolScaleTask]
    funnel: dict[str, int]  # candidates per stage: generated, then the first reason each was dropped, then kept
    # Per stage (rewrite, propose): what the answers behind these records took, as USAGE_FIELDS. From the
    # answers themselves (a cached answer counts as it did when asked), so a rerun reports the same.
    llm_usage: dict[str, dict[str, int]] = field(default_factory=dict)

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


# Young collections while synthesizing: one per this many container allocations (CPython's default is 700).
YOUNG_COLLECTION_THRESHOLD = 50_000


class _YoungCollections:
    """Synthesis and verification make thousands of short-lived dicts, lists and tuples per candidate; at
    CPython's default threshold the cyclic collector runs so often that synthesis goes 5-8% faster without
    it (bank, medicine, school, travel, 1,000 candidates, side by side). Collecting less often frees the
    same cycles, a little later.

    The threshold is the process's: threads that synthesize at once (domain authoring does) share one
    raise, and the setting the first one found is put back when the last one is done."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._before = gc.get_threshold()

    @contextmanager
    def fewer(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._before = gc.get_threshold()
                gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *self._before[1:])
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    gc.set_threshold(*self._before)


_YOUNG_COLLECTIONS = _YoungCollections()


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
    llm: LLMTasks | None = None,
) -> SynthesisResult:
    """Candidates `indices` of run `seed`, in order: each synthesized, verified and made a record.

    With `kept_target`, stops as soon as that many are kept (indices are then usually open-ended).
    With `max_near_duplicate_share`, near-duplicates are capped at that share of the tasks wanted
    (`kept_target`, else every index), as the pipeline's export caps them.
    With `llm`, the candidates `is_proposed` picks are proposed by the model instead (one batch, before
    verification), and then every kept grammar task's scenario is rewritten (one batch) and checked
    again; a rewrite that fails its checks rejects the task, so fewer than `kept_target` may be kept.
    """
    spec = database.spec
    synthesizer = Synthesizer(database, grammar, config)
    reference = DatabaseRef(
        size=int(database.provenance.get("size", -1)),
        seed=int(database.provenance.get("seed", -1)),
        state_hash=database.state_hash,
    )
    funnel = Counter({stage: 0 for stage in funnel_stages(llm is not None)})
    kept: list[ToolScaleTask] = []
    rejected: list[ToolScaleTask] = []
    toolscale_version, fingerprint = version("toolscale"), spec_fingerprint(spec)
    candidates: Iterable[SynthesizedTask | None] = synthesizer.synthesize(seed, indices)
    usage: dict[str, dict[str, int]] = {}
    proposals: dict[int, SynthesizedTask | str] = {}
    if llm is not None and llm.proposed_share > 0:
        candidates = list(candidates)
        chosen = [task for task in candidates if task is not None and is_proposed(task.index, llm.proposed_share)]
        proposals = _proposals(llm, database, seed, chosen, usage)
    total = kept_target if kept_target is not None else len(indices) if isinstance(indices, Sized) else None
    tool_kinds: dict[str, str] = {tool.name: tool.kind for tool in spec.tools}
    near = None if max_near_duplicate_share is None or total is None else NearDuplicateCap(total, max_near_duplicate_share)
    observed: dict[int, Observed | None] = {}
    progress_bar = tqdm(total=total, desc=f"synth {spec.name}", unit="kept" if kept_target else "task", disable=not progress)
    with Verifier(database, grammar_words(grammar)) as verifier, progress_bar as bar, _YOUNG_COLLECTIONS.fewer():
        for task in candidates:
            bar.update(1 if kept_target is None else 0)
            funnel["generated"] += 1
            if task is None:
                funnel[NO_GOAL] += 1
                continue
            backend, invalid = "template", None
            proposal = proposals.get(task.index)
            if llm is not None and proposal is not None:
                backend = llm_backend(llm.backend, llm.model, proposed=True)
                if isinstance(proposal, str):
                    # Recorded with no gold actions: the verifier's verdict on doing nothing gives its states.
                    task, invalid = dataclasses.replace(task, actions=(), communicate_info=(), observed=None), proposal
                else:
                    task = proposal
            verdict = verifier.verify(task.candidate)
            observed[task.index] = task.observed
            provenance = Provenance(
                seed=seed, index=task.index, backend=backend, toolscale_version=toolscale_version, spec_fingerprint=fingerprint
            )
            record = task_record(task, verdict, domain=spec.name, database=reference, provenance=provenance)
            if invalid is not None:
                record = rejected_as(record, "proposal_invalid", invalid)
            if record.verification.verdict == "kept" and near is not None:
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
    if llm is not None and llm.rewrite:
        kept, rewrite_rejected = _rewrite(llm, database, grammar, seed, kept, observed, usage)
        for record in rewrite_rejected:
            funnel["kept"] -= 1
            funnel[record.verification.reasons[0].check] += 1
        rejected = sorted([*rejected, *rewrite_rejected], key=lambda record: record.provenance.index)
    return SynthesisResult(kept, rejected, dict(funnel), usage)


def _proposals(
    llm: LLMTasks, database: DomainDatabase, seed: int, tasks: Sequence[SynthesizedTask], usage: dict[str, dict[str, int]]
) -> dict[int, SynthesizedTask | str]:
    """Each chosen candidate's proposal as a candidate to verify, or why the answer is unusable."""
    personas = [persona_for(seed, task_id(database.spec.name, seed, task.index)) for task in tasks]
    requests = [proposal_request(database, task, persona, seed) for task, persona in zip(tasks, personas, strict=True)]
    answers = _ask(llm.client, requests, usage)
    return {
        task.index: proposed_task(database, task, answer, persona)
        for task, answer, persona in zip(tasks, answers, personas, strict=True)
    }


def _rewrite(
    llm: LLMTasks,
    database: DomainDatabase,
    grammar: TaskGrammar,
    seed: int,
    kept: Sequence[ToolScaleTask],
    observed: dict[int, Observed | None],
    usage: dict[str, dict[str, int]],
) -> tuple[list[ToolScaleTask], list[ToolScaleTask]]:
    """Kept grammar tasks with rewritten scenarios, and those whose rewrite failed (proposed tasks are
    the model's words already and stay as they are)."""
    targets = [record for record in kept if not record.provenance.proposed]
    personas = [persona_for(seed, record.id) for record in targets]
    requests = [rewrite_request(record, persona, seed) for record, persona in zip(targets, personas, strict=True)]
    answers = _ask(llm.client, requests, usage)
    rewritten: dict[str, ToolScaleTask] = {}
    backend = llm_backend(llm.backend, llm.model)
    # Its own verifier: the first one remembers every kept task's writes and would call each a duplicate.
    with Verifier(database, grammar_words(grammar)) as verifier:
        for record, answer, persona in zip(targets, answers, personas, strict=True):
            rewritten[record.id] = rewritten_task(
                record, answer, persona=persona, backend=backend, verifier=verifier, observed=observed[record.provenance.index]
            )
    result = [rewritten.get(record.id, record) for record in kept]
    return [r for r in result if r.verification.verdict == "kept"], [r for r in result if r.verification.verdict != "kept"]


def _ask(client: LLMClient, requests: Sequence[ChatRequest], usage: dict[str, dict[str, int]]) -> list[ChatReply | LLMFailure]:
    """One batch through the client; what its answers took is added to `usage` by stage."""
    if not requests:
        return []
    answers = client.complete(requests)
    for request, answer in zip(requests, answers, strict=True):
        counts = usage.setdefault(request.stage, dict.fromkeys(USAGE_FIELDS, 0))
        counts["requests"] += answer.attempts
        if isinstance(answer, LLMFailure):
            counts["failures"] += 1
        else:
            counts["input_tokens"] += answer.input_tokens
            counts["output_tokens"] += answer.output_tokens
    return answers


def jsonl(records: Iterable[BaseModel]) -> str:
    return "".join(record.model_dump_json() + "\n" for record in records)
