"""The domain as far as it is written: the accepted answers, the spec they make and its problems.

A stage's answer is checked together with everything accepted before it, by the project's validator
(shape, then `check_spec`, the grammar's and the policy's checks), and each problem is reported as the
file it will be written to, its location there and the reason, exactly as `toolscale spec validate` says it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pydantic
import yaml

from toolscale.authoring.stages import (
    GRAMMAR_FILE,
    POLICY_FILE,
    SPEC_FILE,
    CallerAnswer,
    GrammarAnswer,
    PolicyAnswer,
    Stage,
    TablesAnswer,
    ToolsAnswer,
)
from toolscale.domain.checks import CLOCK_PARAMETERS, query_problems
from toolscale.domain.checks import check_spec as spec_problems
from toolscale.spec.errors import SpecIssue, format_location
from toolscale.spec.models import Caller, DomainSpec, Tool
from toolscale.strict import StrictModel
from toolscale.tasks.grammar import CALLER_PARAMETER, grammar_problems
from toolscale.yamlfile import load_yaml

# A fenced block: the whole answer, or the first block of an answer with prose around it.
_FENCE = re.compile(r"```[a-zA-Z]*[ \t]*\n(.*?)\n[ \t]*```", re.DOTALL)
_BACKTICKED = re.compile(r"`([a-z][a-z0-9_]*)`")
_POLICY_SECTIONS = {"authentication": "Authentication", "confirm": "Confirmations", "refus": "Refusals"}


@dataclass
class Draft:
    name: str
    clock: datetime
    folder: Path  # where the files will be written, named in every problem
    answers: dict[str, StrictModel] = field(default_factory=dict)

    def file(self, name: str) -> Path:
        return self.folder / name

    def spec(self, answers: dict[str, StrictModel] | None = None) -> DomainSpec:
        """The spec of these answers; parts not written yet are empty (a stand-in caller before its stage).
        Built without validation: every part was validated on its own, and `check_spec` reads attributes only."""
        answers = self.answers if answers is None else answers
        tables = answers["tables"]
        assert isinstance(tables, TablesAnswer)
        caller = answers.get("caller")
        tools = answers.get("tools")
        grammar = answers.get("grammar")
        first = tables.tables[0]
        return DomainSpec.model_construct(
            spec_version=1,
            name=self.name,
            description=tables.description,
            clock=self.clock,
            tables=tables.tables,
            caller=caller.caller if isinstance(caller, CallerAnswer) else Caller(table=first.name, known=[first.columns[0].name]),
            tools=tools.tools if isinstance(tools, ToolsAnswer) else [],
            expert_strengths=["general", "reasoning", "tool-use"],
            invariants=grammar.invariants if isinstance(grammar, GrammarAnswer) else [],
        )

    def read_answer(self, stage: Stage, text: str) -> tuple[StrictModel | None, list[SpecIssue]]:
        """The answer a reply holds (JSON, or YAML, optionally fenced), or the problems that stop it."""
        where = self.file(POLICY_FILE if stage.name == "policy" else GRAMMAR_FILE if stage.name == "grammar" else SPEC_FILE)
        match = _FENCE.search(text)
        skipped = text[: match.start(1)].count("\n") if match else 0  # lines are counted in the reply as sent
        try:
            data: Any = load_yaml(match.group(1) if match else text)
        except (yaml.YAMLError, ValueError) as error:
            mark = getattr(error, "problem_mark", None)
            at = f"line {mark.line + 1 + skipped}, column {mark.column + 1}" if mark else "(answer)"
            reason = getattr(error, "problem", None) or error
            return None, [SpecIssue(where, at, f"the answer is not valid JSON or YAML: {reason}")]
        try:
            return stage.answer.model_validate(data), []
        except pydantic.ValidationError as error:
            return None, [self._issue(stage, tuple(detail["loc"]), detail["msg"]) for detail in error.errors()]

    def problems(self, stage: Stage, answer: StrictModel) -> list[SpecIssue]:
        """What is wrong with the draft once `answer` is added to it (only the parts written so far)."""
        answers = {**self.answers, stage.name: answer}
        spec = self.spec(answers)
        found = [
            self._issue(stage, location, reason)
            for location, reason in spec_problems(spec)
            if stage.name != "tables" or location[:1] != ("caller",)  # the stand-in caller is not the model's
        ]
        if found or stage.name not in ("policy", "grammar"):
            return found
        if isinstance(answer, PolicyAnswer):
            return [SpecIssue(self.file(POLICY_FILE), where, reason) for where, reason in policy_problems(answer.policy, spec)]
        assert isinstance(answer, GrammarAnswer)
        grammar = answer.grammar
        problems = grammar_problems(grammar, spec)
        queries = [(("goals", index, "candidates"), goal.candidates) for index, goal in enumerate(grammar.goals)]
        queries += [(("refusals", index, "candidates"), refusal.candidates) for index, refusal in enumerate(grammar.refusals)]
        problems += query_problems(spec, queries, {CALLER_PARAMETER, *CLOCK_PARAMETERS})
        return [SpecIssue(self.file(GRAMMAR_FILE), format_location(location), reason) for location, reason in problems]

    def _issue(self, stage: Stage, location: tuple[str | int, ...], reason: str) -> SpecIssue:
        """A problem at a location of the answer, named by the file and location it has once written."""
        if stage.name == "grammar" and location[:1] == ("grammar",):
            return SpecIssue(self.file(GRAMMAR_FILE), format_location(location[1:]), reason)
        if stage.name == "policy":
            return SpecIssue(self.file(POLICY_FILE), format_location(location), reason)
        if stage.name == "tables" and location[:1] == ("description",):
            return SpecIssue(self.file(SPEC_FILE), "description", reason)
        return SpecIssue(self.file(SPEC_FILE), format_location(location), reason)

    def files(self) -> dict[str, str]:
        """The domain's files, as they are written: domain.yaml, policy.md, grammar.yaml."""
        spec = self.spec()
        grammar = self.answers["grammar"]
        policy = self.answers["policy"]
        assert isinstance(grammar, GrammarAnswer)
        assert isinstance(policy, PolicyAnswer)
        header = f"# Written by `toolscale domain new {self.name}`; the conversation is in authoring/conversation.jsonl.\n"
        spec_data = DomainSpec.model_validate(spec.model_dump()).model_dump(mode="json", exclude_defaults=True)
        spec_data = {"spec_version": 1, **spec_data}
        return {
            SPEC_FILE: header + _yaml(spec_data),
            POLICY_FILE: policy.policy.rstrip() + "\n",
            GRAMMAR_FILE: header + _yaml(grammar.grammar.model_dump(mode="json", exclude_defaults=True)),
        }


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)


def policy_problems(policy: str, spec: DomainSpec) -> list[tuple[str, str]]:
    """What a policy must say for its tools: the three sections, the caller's lookups under Authentication,
    and no tool named that the domain does not have (a policy naming a missing tool promises what no call does)."""
    sections = _sections(policy)
    problems = [
        ("(sections)", f"no '## {title}' section")
        for key, title in _POLICY_SECTIONS.items()
        if not any(key in heading for heading in sections)
    ]
    tools = {tool.name: tool for tool in spec.tools}
    words = set(spec.caller.known) | {table.name for table in spec.tables}
    words |= {column.name for table in spec.tables for column in table.columns}
    for name in sorted(set(_BACKTICKED.findall(policy)) - set(tools) - words):
        if "_" in name:
            problems.append(("(text)", f"`{name}` is not a tool of domain {spec.name!r}"))
    authentication = next((text for heading, text in sections.items() if "authentication" in heading), "")
    lookups = [name for name in _BACKTICKED.findall(authentication) if name in tools and _identifies_caller(tools[name], spec)]
    if "authentication" in " ".join(sections) and not lookups:
        known = ", ".join(spec.caller.known)
        problems.append(
            ("Authentication", f"names no read tool that finds the caller from what they know ({known}); name one in backticks")
        )
    return problems


def _identifies_caller(tool: Tool, spec: DomainSpec) -> bool:
    required = set(tool.parameters.required)
    return tool.kind == "read" and bool(required) and required <= set(spec.caller.known)


def _sections(policy: str) -> dict[str, str]:
    """Each '## ' heading (lower-cased) and the text under it."""
    sections: dict[str, str] = {}
    heading: str | None = None
    for line in policy.splitlines():
        if line.startswith("## "):
            heading = line[3:].strip().lower()
            sections[heading] = ""
        elif heading is not None:
            sections[heading] += line + "\n"
    return sections
