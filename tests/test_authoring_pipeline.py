"""A `domains:` entry with `describe:`: the pipeline writes the domain with its model first, through the real
openai backend (here against a loopback stand-in answering the recorded vet replies), cached by the LLM layer."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.llm_stand_in import completion
from tests.stand_in_server import JsonHandler, serving
from toolscale.errors import ToolScaleError
from toolscale.pipeline.authoring import author_described_domains
from toolscale.pipeline.config import RunConfig

VET = Path(__file__).parent / "data" / "authoring" / "vet"
DESCRIBE = "a veterinary clinic: owners, pets, appointments, vaccinations, invoices"


class RecordedModel(JsonHandler):
    """Answers each stage's request with its recorded reply; the stage is named in the prompt."""

    asked: ClassVar[list[str]] = []

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches POST to
        body: dict[str, Any] = self.read_json()
        prompt = next(message["content"] for message in body["messages"] if message["role"] == "user")
        match = re.search(r"Now the (\w+) part\.", prompt)
        assert match is not None, prompt
        self.asked.append(match.group(1))
        self.reply_json(200, completion((VET / f"{match.group(1)}.json").read_text()))


def config(tmp_path: Path, base_url: str) -> RunConfig:
    llm = {"backend": "openai", "model": "stand-in", "base_url": base_url, "max_retries": 0}
    entry = {"name": "vet", "describe": DESCRIBE, "llm": llm, "tasks": 20}
    return RunConfig.model_validate({"name": "authored", "output_dir": str(tmp_path / "out"), "domains": [entry]})


def test_a_described_domain_is_written_first_then_reruns_ask_nothing(tmp_path: Path) -> None:
    RecordedModel.asked = []
    with serving(RecordedModel) as base_url:
        run = config(tmp_path, base_url)
        assert author_described_domains(run, tmp_path / "domains") == ["vet"]
        assert RecordedModel.asked == ["tables", "caller", "tools", "policy", "grammar"]
        # The domain is there: a rerun uses it and asks the model nothing.
        assert author_described_domains(run, tmp_path / "domains") == []
        assert len(RecordedModel.asked) == 5
    written = {name: (tmp_path / "domains" / "vet" / name).read_bytes() for name in ("domain.yaml", "grammar.yaml", "policy.md")}
    # Written again elsewhere with the server gone: every answer comes from the LLM layer's cache, same bytes.
    assert author_described_domains(run, tmp_path / "again") == ["vet"]
    assert {name: (tmp_path / "again" / "vet" / name).read_bytes() for name in written} == written
    assert (tmp_path / "out" / "work" / "authoring" / "llm-cache.sqlite").is_file()


def test_a_domain_written_from_another_description_is_refused(tmp_path: Path) -> None:
    shutil.copytree(VET, tmp_path / "domains" / "vet")  # any folder of that name, not written from this description
    run = config(tmp_path, "http://127.0.0.1:9/v1")
    with pytest.raises(ToolScaleError, match="exists and was not written from this description"):
        author_described_domains(run, tmp_path / "domains")


def test_describe_needs_a_model_and_a_domain_name() -> None:
    with pytest.raises(ValueError, match="a `describe` domain needs a model"):
        RunConfig.model_validate({"name": "r", "domains": [{"name": "vet", "describe": DESCRIBE}]})
    llm = {"backend": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1"}
    with pytest.raises(ValueError, match="is not a domain name"):
        RunConfig.model_validate({"name": "r", "domains": [{"name": "Vet Clinic", "describe": DESCRIBE, "llm": llm}]})
    with pytest.raises(ValueError, match="unknown domain 'vet'"):
        RunConfig.model_validate({"name": "r", "domains": [{"name": "vet"}]})
