"""How varied the synthesized tasks are, per domain (figures, not tests).

    python -m benchmarks.variety                      # synthesize 1,000 kept tasks per domain here
    python -m benchmarks.variety --output output      # or read a pipeline run's Parquet shards

Per domain: the distinct/total ratio of word 3-grams of reason_for_call on 114-task samples (the size
of τ²-bench's retail task set, whose ratio is 0.58), the share of near-duplicates (a task whose write
sequence and wording apart from values equal another task's), the mix of task kinds, and how many
scenarios still carry raw ISO timestamps, snake_case values or "(s)" plurals.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from toolscale.domain.loader import domain_dir, load_domain
from toolscale.pipeline.config import load_run_config
from toolscale.populate.stage import default_size, populate
from toolscale.tasks.grammar import GRAMMAR_FILE, load_grammar
from toolscale.tasks.run import synthesize_domain

SAMPLE = 114
SAMPLES = 8
_WORD = re.compile(r"\w+")
# Values in a scenario: numbers, capitalised names, emails, spoken dates and clock times.
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_VALUE = re.compile(
    rf"[\w.+-]+@[\w.-]+|(?:{_MONTHS}) \d{{1,2}}, \d{{4}}(?: at \d{{1,2}}(?::\d{{2}})? [AP]M)?|\d[\d.,:-]*|(?<=\w )[A-Z][\w'&-]*"
)
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
_SNAKE = re.compile(r"\b[a-z]+_[a-z0-9_]+\b")


def trigram_ratio(texts: Sequence[str]) -> float:
    """Distinct over total word 3-grams (lower-cased), each text's 3-grams taken on their own."""
    grams: list[tuple[str, ...]] = []
    for text in texts:
        words = _WORD.findall(text.lower())
        grams += [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    return len(set(grams)) / max(len(grams), 1)


def wording(text: str) -> str:
    """The text with its values masked: what stays is how it is said."""
    return _VALUE.sub("#", text)


def figures(rows: Sequence[dict[str, Any]], writes: set[str]) -> dict[str, Any]:
    reasons = [row["user_scenario"]["instructions"]["reason_for_call"] for row in rows]
    rng = random.Random(0)
    ratios = [trigram_ratio(rng.sample(reasons, min(SAMPLE, len(reasons)))) for _ in range(SAMPLES)]
    keys = Counter(
        (
            tuple(action["name"] for action in row["evaluation_criteria"]["actions"] if action["name"] in writes),
            wording(reason),
        )
        for row, reason in zip(rows, reasons, strict=True)
    )
    scenario = [" ".join(str(value) for value in row["user_scenario"]["instructions"].values()) for row in rows]
    return {
        "tasks": len(rows),
        "trigram_ratio_min": round(min(ratios), 3),
        "trigram_ratio_mean": round(statistics.mean(ratios), 3),
        "near_duplicate_share": round(sum(count for count in keys.values() if count > 1) / max(len(rows), 1), 3),
        "kinds": dict(sorted(Counter(row.get("kind", "write") for row in rows).items())),
        "iso_dates": sum(bool(_ISO.search(text)) for text in scenario),
        "snake_case": sum(bool(_SNAKE.search(text)) for text in scenario),
        "plural_s": sum("(s)" in text for text in scenario),
    }


def synthesized(domain: str, count: int) -> list[dict[str, Any]]:
    spec = load_domain(domain)
    config = load_run_config(Path("pipelines/default.yaml")).synthesis
    database = populate(spec, default_size(spec), seed=0)
    grammar = load_grammar(domain_dir(domain) / GRAMMAR_FILE, spec)
    result = synthesize_domain(database, grammar, config, seed=0, indices=range(3 * count), kept_target=count)
    return [record.model_dump(mode="json") for record in result.kept]


def from_output(output: Path, domain: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted((output / "data" / domain).glob("*.parquet")):  # the kept tasks of every split
        rows += pq.read_table(path).to_pylist()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="a pipeline output directory to read instead of synthesizing")
    parser.add_argument("--count", type=int, default=1000, help="kept tasks to synthesize per domain")
    parser.add_argument("domains", nargs="*")
    args = parser.parse_args()
    domains = args.domains or sorted(path.parent.name for path in domain_dir("bank").parent.glob(f"*/{GRAMMAR_FILE}"))
    for domain in domains:
        writes = {tool.name for tool in load_domain(domain).tools if tool.kind == "write"}
        rows = from_output(args.output, domain) if args.output else synthesized(domain, args.count)
        print(json.dumps({"domain": domain, **figures(rows, writes)}))


if __name__ == "__main__":
    main()
