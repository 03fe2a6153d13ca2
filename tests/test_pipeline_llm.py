"""The pipeline with a model writing: rewrites and proposals land in the shards with their funnel, usage
and cost in stats.json and the card; the reply cache makes a rerun from scratch send nothing and give the
same bytes. The server here is a stand-in on loopback that answers rewrites by copying the grammar's
scenario in a fixed voice (the real llama.cpp server is exercised by `make llm-local`)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from tests.llm_stand_in import completion
from tests.stand_in_server import JsonHandler, serving
from toolscale.data import load_tasks
from toolscale.pipeline.config import ConfigError, load_run_config
from toolscale.pipeline.ownership import LLM_CACHE_FILE
from toolscale.pipeline.run import RunSummary, run_pipeline
from toolscale.tasks.llm_checks import LLM_CHECKS

VOICE = "Right, so here is the thing. "
FIELDS = ("reason_for_call", "known_info", "unknown_info", "task_instructions")


class Writer(JsonHandler):
    """Rewrites: the grammar's fields, the reason in a voice. Proposals: a tool the domain lacks, so
    every proposal is invalid (the verifier's own checks on proposals are tests/test_tasks_propose.py's)."""

    requests: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches POST to
        body = self.read_json()
        type(self).requests.append(body)
        prompt = body["messages"][-1]["content"]
        if body["response_format"]["schema"]["title"] == "RewrittenScenario":
            fields = {
                name: line.split(": ", 1)[1] for line in prompt.splitlines() for name in FIELDS if line.startswith(f"{name}: ")
            }
            answer = fields | {"reason_for_call": VOICE + fields["reason_for_call"]}
        else:
            answer = {
                "reason_for_call": "x",
                "known_info": "y",
                "task_instructions": "z",
                "actions": [{"name": "teleport", "arguments": "{}"}],
            }
        self.reply_json(200, completion(json.dumps(answer)))


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving(Writer) as base_url:
        yield base_url


def config_file(directory: Path, base_url: str, **llm: Any) -> Path:
    path = directory / "run.yaml"
    settings = {
        "backend": "openai",
        "model": "stand-in",
        "base_url": base_url,
        "response_format": "json_object",
        "proposed_share": 0.2,
    }
    data = {
        "name": "written",
        "output_dir": str(directory / "out"),
        "seed": 3,
        "domains": ["bank"],
        "tasks": 8,
        "unit_candidates": 10,
        "llm": settings | llm,
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def published(output: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(output)): path.read_bytes()
        for path in sorted(output.rglob("*"))
        if path.is_file() and path.relative_to(output).parts[0] in ("README.md", "stats.json", "stats", "data", "rejected")
    }


@pytest.fixture(scope="module")
def finished(server: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunSummary]:
    directory = tmp_path_factory.mktemp("written")
    Writer.requests = []
    config = load_run_config(config_file(directory, server))
    return config.output_dir, run_pipeline(config, workers=1, progress=False)


def test_kept_tasks_carry_the_rewritten_scenarios_and_the_model(finished: tuple[Path, RunSummary]) -> None:
    output, summary = finished
    assert summary.tasks == {"bank": 8}
    tasks = load_tasks(output, "bank", "train")
    rows = list(tasks)  # type: ignore[arg-type]
    assert rows
    for row in rows:
        assert row["user_scenario"]["instructions"]["reason_for_call"].startswith(VOICE)
        assert row["provenance"]["backend"] == "openai:stand-in"
        assert row["user_scenario"]["persona"].startswith("You are ")


def test_stats_and_card_show_the_model_stages_usage_and_proposals(finished: tuple[Path, RunSummary]) -> None:
    output, summary = finished
    stats = json.loads((output / "stats.json").read_text())
    bank = stats["domains"]["bank"]
    assert set(LLM_CHECKS) <= set(bank["funnel"])
    assert sum(count for stage, count in bank["funnel"].items() if stage != "generated") == bank["funnel"]["generated"]
    proposals = bank["proposals"]
    assert proposals["kept"] == 0
    assert proposals["rejected"] == {"proposal_invalid": proposals["proposed"]}
    assert proposals["proposed"] == bank["funnel"]["proposal_invalid"] > 0
    usage = bank["llm"]
    assert (usage["backend"], usage["model"], usage["priced_as"]) == ("openai", "stand-in", None)
    # Usage counts every unit run; the funnel only the candidates up to the last task exported.
    assert usage["stages"]["propose"]["requests"] == summary.llm["propose"].requests >= proposals["proposed"]
    assert usage["stages"]["rewrite"]["input_tokens"] == 100 * usage["stages"]["rewrite"]["requests"]
    assert usage["stages"]["rewrite"]["cost_usd"] == 0.0  # a model the catalog does not price
    assert stats["llm"]["openai:stand-in"] == usage["stages"]
    # What this run sent, counted by the client, matches what the answers behind the data took.
    assert summary.llm["rewrite"].requests == usage["stages"]["rewrite"]["requests"]
    card = (output / "README.md").read_text()
    assert "| near_duplicate | " + " | ".join(LLM_CHECKS) + " | reviewer_flagged | kept |" in card
    assert "## Written by a model" in card
    assert f"| bank | openai | stand-in | unpriced | rewrite | {usage['stages']['rewrite']['requests']:,} |" in card
    assert f"| bank | {proposals['proposed']} | 0 | proposal_invalid {proposals['proposed']} |" in card


def test_a_run_from_scratch_seeded_with_the_cache_sends_nothing_and_gives_the_same_bytes(
    finished: tuple[Path, RunSummary], server: str, tmp_path: Path
) -> None:
    output, first = finished
    asked = len(Writer.requests)
    config = load_run_config(config_file(tmp_path, server))
    config.output_dir.mkdir()
    for cache in output.glob(f"{LLM_CACHE_FILE}*"):
        shutil.copy(cache, config.output_dir / cache.name)
    summary = run_pipeline(config, workers=1, progress=False)
    assert summary.units_run == first.units_run
    assert len(Writer.requests) == asked
    assert {stage: (usage.requests, usage.cache_hits) for stage, usage in summary.llm.items()} == {
        stage: (0, usage.requests) for stage, usage in first.llm.items()
    }
    assert published(config.output_dir) == published(output)


def test_the_price_of_a_catalog_model_costs_the_tokens(server: str, tmp_path: Path) -> None:
    config = load_run_config(config_file(tmp_path, server, price_as="gpt-5-mini", proposed_share=0.0))
    run_pipeline(config, workers=1, progress=False)
    usage = json.loads((config.output_dir / "stats.json").read_text())["domains"]["bank"]["llm"]
    rewrite = usage["stages"]["rewrite"]
    assert usage["priced_as"] == "gpt-5-mini"
    # gpt-5-mini's list prices: $0.25 in, $2 out per million tokens.
    assert rewrite["cost_usd"] == pytest.approx((rewrite["input_tokens"] * 0.25 + rewrite["output_tokens"] * 2) / 1e6)
    assert rewrite["cost_usd"] > 0


@pytest.mark.parametrize(
    ("llm", "expected"),
    [
        ({"backend": "template", "proposed_share": 0.5}, "llm: Value error, proposed_share: needs a model"),
        ({"price_as": "gpt-17"}, "llm: Value error, price_as: 'gpt-17' is not a model of the catalog"),
        ({"backend": "openai", "model": None}, "llm: Value error, model: required by backend 'openai'"),
        ({"rewrite": "yes please"}, "llm.rewrite: Input should be a valid boolean"),
    ],
)
def test_a_bad_llm_section_names_the_key(tmp_path: Path, llm: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_run_config(config_file(tmp_path, "http://127.0.0.1:9/v1", **llm))
    assert expected in str(error.value)
    assert not (tmp_path / "out").exists()
