"""What an authoring run did, stage by stage: passed, failed (and why) or never reached."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["passed", "failed", "not reached"]
# The model's stages, then the checks the assembled domain must pass before it is written.
CHECK_STAGES = ("validate", "populate", "probe", "sample")


@dataclass
class StageOutcome:
    stage: str
    status: Status = "not reached"
    attempts: int = 0  # answers asked of the model: 1 + repairs (0 for a check)
    problems: list[str] = field(default_factory=list)  # the last answer's problems, or why the check failed
    detail: str = ""


@dataclass
class AuthoringReport:
    domain: str
    description: str
    outcomes: list[StageOutcome]
    written_to: str | None = None

    @property
    def passed(self) -> bool:
        return all(outcome.status == "passed" for outcome in self.outcomes)

    def failed_stage(self) -> StageOutcome | None:
        return next((outcome for outcome in self.outcomes if outcome.status == "failed"), None)

    def outcome(self, stage: str) -> StageOutcome:
        return next(outcome for outcome in self.outcomes if outcome.stage == stage)

    def text(self) -> str:
        lines = [f"domain {self.domain}: " + ("every stage passed" if self.passed else self._failure_line())]
        width = max(len(outcome.stage) for outcome in self.outcomes)
        for outcome in self.outcomes:
            attempts = f" ({outcome.attempts} answer{'s' if outcome.attempts != 1 else ''})" if outcome.attempts else ""
            detail = f": {outcome.detail}" if outcome.detail else ""
            lines.append(f"  {outcome.stage:<{width}} {outcome.status}{attempts}{detail}")
            lines += [f"    {problem}" for problem in outcome.problems]
        return "\n".join(lines) + "\n"

    def _failure_line(self) -> str:
        failed = self.failed_stage()
        return f"failed at stage {failed.stage!r}; nothing written" if failed else "not finished; nothing written"

    def json_text(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2) + "\n"
