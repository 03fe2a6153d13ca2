"""Write a domain with a language model: stage by stage, each answer checked and repaired, then the
assembled domain validated, populated, probed and sampled before anything is written.

The domain reaches `domains/<name>/` by one rename of a finished staging folder, so a reader sees no
domain or the whole one; a failed run removes its staging folder and writes nothing there.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from toolscale.atomic import write_atomically
from toolscale.authoring.draft import Draft
from toolscale.authoring.prober import Prober
from toolscale.authoring.report import CHECK_STAGES, AuthoringReport, StageOutcome
from toolscale.authoring.stages import GRAMMAR_FILE, SPEC_FILE, STAGES, Stage
from toolscale.domain.loader import load_spec
from toolscale.engine.database import DomainDatabase
from toolscale.errors import ToolScaleError
from toolscale.llm.types import ChatReply, ChatRequest, LLMClient
from toolscale.populate.stage import default_size, populate
from toolscale.spec.errors import SpecError
from toolscale.tasks.grammar import TaskGrammar, load_grammar
from toolscale.tasks.preference import SynthesisConfig
from toolscale.tasks.run import synthesize_domain

AUTHORING_DIR = "authoring"  # beside the domain's files: the conversation and the report
CONVERSATION_FILE = "conversation.jsonl"
REPORT_FILE = "report.json"

SYSTEM_PROMPT = """You write a ToolScale domain: the database, tools, policy and task grammar of a customer-support
setting in which an agent helps callers with tool calls. A domain is data, never code: tables with value
generators, tools as parameterized SQLite (SELECT for reads; INSERT, UPDATE, DELETE for effects; values only
as bound :name parameters), a Markdown policy and a grammar of what callers ask for. It is written one part
at a time; every part is checked against the parts before it, and problems come back to be fixed.
Answer with one JSON object that matches the given JSON Schema, and nothing else."""


@dataclass(frozen=True)
class AuthoringSettings:
    name: str
    describe: str
    clock: datetime
    repairs: int = 3  # answers asked again per stage after the first
    sample: int = 100  # verified tasks the domain must yield
    seed: int = 0
    # False: the JSON Schema goes into the prompt and the request asks for plain text, for servers whose
    # structured output cannot take the spec's schema (llama-cpp-python fails to build a grammar of it).
    schema_as_response_format: bool = True


@dataclass
class AuthoringResult:
    report: AuthoringReport
    conversation: list[dict[str, Any]] = field(default_factory=list)

    def conversation_text(self) -> str:
        return "".join(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n" for entry in self.conversation)


def author_domain(client: LLMClient, settings: AuthoringSettings, domains_dir: Path) -> AuthoringResult:
    """Ask, check and repair each stage, check the whole domain, and write it to domains_dir/<name> only
    when every stage and check passed."""
    target = domains_dir / settings.name
    if target.exists():
        raise ToolScaleError(f"{target}: a domain of that name exists already; choose another name or remove it")
    outcomes = [StageOutcome(stage=stage.name) for stage in STAGES] + [StageOutcome(stage=name) for name in CHECK_STAGES]
    result = AuthoringResult(AuthoringReport(domain=settings.name, description=settings.describe, outcomes=outcomes))
    draft = Draft(settings.name, settings.clock, target)
    for stage in STAGES:
        if not _run_stage(client, settings, draft, stage, result):
            return result
    domains_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=domains_dir, prefix=f".{settings.name}.authoring-"))
    try:
        folder = staging / settings.name
        for name, text in draft.files().items():
            write_atomically(folder / name, text)
        if _check(settings, folder, result):
            result.report.written_to = str(target)
            write_atomically(folder / AUTHORING_DIR / CONVERSATION_FILE, result.conversation_text())
            write_atomically(folder / AUTHORING_DIR / REPORT_FILE, result.report.json_text())
            if target.exists():
                raise ToolScaleError(f"{target}: a domain of that name appeared while this one was written; nothing written")
            os.rename(folder, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _run_stage(client: LLMClient, settings: AuthoringSettings, draft: Draft, stage: Stage, result: AuthoringResult) -> bool:
    outcome = result.report.outcome(stage.name)
    base = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": _stage_prompt(settings, draft, stage)}]
    messages = list(base)
    for attempt in range(settings.repairs + 1):
        outcome.attempts = attempt + 1
        request = ChatRequest(
            stage=f"author.{stage.name}",
            messages=tuple(messages),
            json_schema=stage.json_schema() if settings.schema_as_response_format else None,
            schema_name=f"toolscale_{stage.name}" if settings.schema_as_response_format else None,
            seed=settings.seed,
        )
        (reply,) = client.complete([request])
        entry: dict[str, Any] = {"stage": stage.name, "attempt": attempt, "messages": messages}
        result.conversation.append(entry)
        if not isinstance(reply, ChatReply):
            entry["failure"] = {"reason": reply.reason, "detail": reply.detail}
            outcome.status, outcome.detail = "failed", f"the model gave no answer ({reply.reason}): {reply.detail}"
            return False
        entry["reply"] = reply.text
        answer, issues = draft.read_answer(stage, reply.text)
        if answer is not None:
            issues = draft.problems(stage, answer)
        entry["problems"] = [str(issue) for issue in issues]
        if answer is not None and not issues:
            draft.answers[stage.name] = answer
            outcome.status, outcome.problems = "passed", []
            return True
        outcome.problems = [str(issue) for issue in issues]
        messages = [
            *base,
            {"role": "assistant", "content": reply.text},
            {"role": "user", "content": _repair_prompt(stage, issues)},
        ]
    outcome.status = "failed"
    outcome.detail = f"still wrong after {settings.repairs} repair(s)"
    return False


def _stage_prompt(settings: AuthoringSettings, draft: Draft, stage: Stage) -> str:
    written = {name: answer.model_dump(mode="json", exclude_defaults=True) for name, answer in draft.answers.items()}
    parts = [f"The domain {settings.name!r}: {settings.describe}", f"Its clock (:now) is {settings.clock.isoformat()}."]
    if written:
        parts.append("Written and checked so far:\n" + yaml.safe_dump(written, sort_keys=False, width=120))
    parts.append(f"Now the {stage.name} part. {stage.instruction}")
    if not settings.schema_as_response_format:
        parts.append("The answer's JSON Schema:\n" + json.dumps(stage.compact_schema(), separators=(",", ":")))
    return "\n\n".join(parts)


def _repair_prompt(stage: Stage, issues: list[Any]) -> str:
    listed = "\n".join(f"- {issue}" for issue in issues)
    return (
        f"That answer has these problems (file: location: reason):\n{listed}\n\n"
        f"Answer again with the whole corrected {stage.name} part."
    )


def _check(settings: AuthoringSettings, folder: Path, result: AuthoringResult) -> bool:
    """The checks the written files must pass, in order; the first failure ends the run."""
    report = result.report
    try:
        spec = load_spec(folder / SPEC_FILE)
        grammar = load_grammar(folder / GRAMMAR_FILE, spec)
    except SpecError as error:
        return _fail(report.outcome("validate"), "the written files do not validate", [str(issue) for issue in error.issues])
    report.outcome("validate").status = "passed"
    size = default_size(spec)
    sizes = sorted({max(1, size // 10), size})
    try:
        databases = [populate(spec, each, seed=settings.seed) for each in sizes]
    except ToolScaleError as error:  # a PopulateError names the table, rule or invariant that failed
        return _fail(report.outcome("populate"), "populating failed", [str(error)])
    _passed(report.outcome("populate"), f"sizes {', '.join(map(str, sizes))}, invariants kept")
    database = databases[-1]
    try:
        problems = _probe(database, grammar)
    except sqlite3.Error as error:  # a grammar's candidate query that compiles but fails when it runs
        return _fail(report.outcome("probe"), "a query failed while probing", [str(error)])
    if problems:
        return _fail(report.outcome("probe"), "a tool or precondition was never exercised as written", problems)
    _passed(report.outcome("probe"), f"{len(spec.tools)} tools succeeded, every precondition failed with its message")
    try:
        sample = synthesize_domain(
            database,
            grammar,
            SynthesisConfig(),
            seed=settings.seed,
            indices=range(3 * settings.sample),
            kept_target=settings.sample,
        )
    except sqlite3.Error as error:
        return _fail(report.outcome("sample"), "a query failed while synthesizing", [str(error)])
    if len(sample.kept) < settings.sample:
        dropped = ", ".join(f"{stage} {count}" for stage, count in sample.funnel.items() if count and stage != "generated")
        detail = f"{len(sample.kept)} of {settings.sample} tasks verified in {3 * settings.sample} candidates"
        return _fail(report.outcome("sample"), detail, [f"funnel: {dropped}"])
    _passed(report.outcome("sample"), f"{len(sample.kept)} verified tasks")
    return True


def _probe(database: DomainDatabase, grammar: TaskGrammar) -> list[str]:
    probes = Prober(database, grammar).probe_all()
    return [f"{name}: {problem}" for name, probe in probes.items() for problem in probe.problems(database.tools[name])]


def _passed(outcome: StageOutcome, detail: str) -> None:
    outcome.status, outcome.detail = "passed", detail


def _fail(outcome: StageOutcome, detail: str, problems: list[str]) -> bool:
    outcome.status, outcome.detail, outcome.problems = "failed", detail, problems
    return False
