"""An LLMClient that answers from recorded reply files instead of a model.

A stage's first answer is `<stage>.json` and its n-th repair `<stage>.repair-<n>.json`, each holding the
reply's text exactly as a model sent it (which may be broken: that is what repairs are for). Folders are
searched in order, so a folder of a few broken replies can be laid over a folder of good ones. It serves
to replay a reviewed conversation and to test the authoring loop without a model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from toolscale.llm.types import ChatReply, ChatRequest, LLMFailure, StageUsage

STAGE_PREFIX = "author."


def reply_file(stage: str, attempt: int) -> str:
    return f"{stage}.json" if attempt == 0 else f"{stage}.repair-{attempt}.json"


class ReplayClient:
    def __init__(self, folders: Sequence[Path]) -> None:
        self.folders = list(folders)
        self._asked: Counter[str] = Counter()
        self._served: Counter[str] = Counter()
        self._missing: Counter[str] = Counter()

    def complete(self, requests: Sequence[ChatRequest]) -> list[ChatReply | LLMFailure]:
        return [self._answer(request) for request in requests]

    def _answer(self, request: ChatRequest) -> ChatReply | LLMFailure:
        stage = request.stage.removeprefix(STAGE_PREFIX)
        attempt = self._asked[stage]
        self._asked[stage] += 1
        name = reply_file(stage, attempt)
        path = next((folder / name for folder in self.folders if (folder / name).is_file()), None)
        if path is None:
            self._missing[request.stage] += 1
            return LLMFailure(
                reason="refused", detail=f"no recorded reply {name} in {', '.join(map(str, self.folders))}", attempts=1
            )
        self._served[request.stage] += 1
        return ChatReply(text=path.read_text(encoding="utf-8"), input_tokens=0, output_tokens=0, seconds=0.0, cached=False)

    def usage(self) -> dict[str, StageUsage]:
        stages = sorted(set(self._served) | set(self._missing))
        return {stage: StageUsage(requests=self._served[stage], failures=self._missing[stage]) for stage in stages}

    def close(self) -> None:
        return None
