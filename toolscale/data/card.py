"""The dataset card (`README.md`): YAML `configs` that `datasets` and the Hub's viewer read, and a summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from toolscale.data.figures import KINDS, SAMPLE_SIZE
from toolscale.data.load import ALL_DOMAINS, REJECTED


def card_configs(counts: Mapping[str, Mapping[str, int]], rejected: int, content: str) -> list[dict[str, object]]:
    """One config per domain, `all` (the default) over every domain, and `rejected` for reviewers.

    A split without tasks is left out: a config must not name files that do not exist. Each config's
    description names the `content` digest because `datasets` keys its cache of a local folder on
    the card alone: without it, a regenerated folder of the same name would load the old rows.
    """

    def files(domain: str, splits: Sequence[str]) -> list[dict[str, str]]:
        return [{"split": split, "path": f"data/{domain}/{split}-*.parquet"} for split in splits]

    every_split = [split for split in _split_order(counts) if any(domain.get(split, 0) for domain in counts.values())]

    def config(name: str, data_files: list[dict[str, str]], what: str) -> dict[str, object]:
        return {"config_name": name, "description": f"{what} (content {content[:16]})", "data_files": data_files}

    configs = [{**config(ALL_DOMAINS, files("*", every_split), "kept tasks of every domain"), "default": True}]
    configs += [
        config(domain, files(domain, [split for split in every_split if counts[domain].get(split, 0)]), f"kept {domain} tasks")
        for domain in sorted(counts)
    ]
    if rejected:
        configs.append(config(REJECTED, [{"split": "train", "path": "rejected/*.parquet"}], "rejected candidates with reasons"))
    return configs


def _split_order(counts: Mapping[str, Mapping[str, int]]) -> list[str]:
    return list(dict.fromkeys(split for domain in counts.values() for split in domain))


def dataset_card(
    run_name: str,
    counts: Mapping[str, Mapping[str, int]],
    rejected: Mapping[str, int],
    funnels: Mapping[str, Mapping[str, int]],
    stages: Sequence[str],
    content: str,
    figures: Mapping[str, Mapping[str, Any]],
    review: Mapping[str, int] | None = None,
    written: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """`counts`: kept tasks per domain and split; `rejected`: rejected candidates per domain; `funnels`: candidates
    per domain at each of the `stages`; `content`: a digest of every exported file; `figures`: per domain,
    `toolscale.data.figures.domain_figures` (a domain exported before figures existed has none); `review`:
    reviewed, approved and flagged task counts of the reviewers' labels; `written`: per domain whose tasks a
    model wrote, its stats' `llm` and `proposals` (`toolscale.pipeline.stages.export_stage`)."""
    domains = sorted(counts)
    splits = _split_order(counts)
    header = {
        "pretty_name": f"ToolScale: {run_name}",
        "language": ["en"],
        "tags": ["tool-use", "agents", "synthetic", "tau2-bench"],
        "configs": card_configs(counts, sum(rejected.values()), content),
    }
    lines = [
        "---",
        yaml.safe_dump(header, sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        f"# ToolScale: {run_name}",
        "",
        "Verified tool-use tasks for training tool orchestrators. Each row is a τ²-bench task "
        "(user scenario, gold actions, communicate_info) extended with its domain database "
        "(size, seed, state hash), the expected final-state hash and diff, a preference vector over "
        "accuracy, cost, latency and expert aliases, per-task expert pricing, a difficulty label, "
        "provenance and the verifier's verdict. Tool arguments, outputs and diffs are JSON text.",
        "",
        "```python",
        "import datasets",
        'tasks = datasets.load_dataset("<this repo or folder>", "bank", split="train")  # or "all", "rejected"',
        "```",
        "",
        "## Tasks per domain and split",
        "",
        "| domain | " + " | ".join(splits) + " | rejected |",
        "|---|" + "---:|" * (len(splits) + 1),
    ]
    lines += [_row(d, [counts[d].get(split, 0) for split in splits] + [rejected.get(d, 0)]) for d in domains]
    lines += [
        "",
        "## Verification funnel",
        "",
        "Candidates per domain: generated, then how many each check rejected first, then kept.",
        "",
        "| domain | " + " | ".join(stages) + " |",
        "|---|" + "---:|" * len(stages),
    ]
    lines += [_row(d, [funnels[d][stage] for stage in stages]) for d in sorted(funnels)]
    lines += [
        "",
        "## What the tasks teach",
        "",
        f"Variety: distinct over total word 3-grams of reason_for_call on samples of {SAMPLE_SIZE} tasks (mean and "
        "lowest sample; τ²-bench's 114 retail tasks measure 0.58). Near-duplicates: kept tasks sharing their writes "
        "and their wording, values aside, with another kept task. Kinds: kept tasks per kind.",
        "",
        "| domain | 3-gram ratio | lowest sample | near-duplicates | " + " | ".join(KINDS) + " |",
        "|---|" + "---:|" * (3 + len(KINDS)),
    ]
    lines += [_figures_row(d, figures[d]) for d in sorted(figures) if figures[d]]
    if written:
        lines += _written_section(written)
    if review and review.get("reviewed"):
        lines += [
            "",
            "## Review",
            "",
            f"Reviewers labelled {review['reviewed']:,} tasks: {review['approved']:,} approved, {review['flagged']:,} flagged. "
            "Flagged tasks are left out of the data and counted as `reviewer_flagged` in the funnel.",
        ]
    return "\n".join(lines) + "\n"


def _written_section(written: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What a model wrote: its answers' usage and cost per stage, and how its proposed tasks fared."""
    lines = [
        "",
        "## Written by a model",
        "",
        "Kept grammar tasks have their scenario rewritten in a caller's voice (stage `rewrite`), and a share of the "
        "candidates is proposed whole, gold actions included (stage `propose`); both are verified like every task. "
        "Requests count repairs; cost is at the catalog's list prices of `priced as` (a model it does not list costs 0).",
        "",
        "| domain | backend | model | priced as | stage | requests | failures | tokens in | tokens out | cost (USD) |",
        "|---|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for domain in sorted(written):
        llm = written[domain]["llm"]
        priced = llm["priced_as"] or "unpriced"
        for stage, usage in llm["stages"].items():
            lines.append(
                f"| {domain} | {llm['backend']} | {llm['model']} | {priced} | {stage} | {usage['requests']:,} | "
                f"{usage['failures']:,} | {usage['input_tokens']:,} | {usage['output_tokens']:,} | {usage['cost_usd']:.4f} |"
            )
    lines += ["", "Proposed tasks: kept, and rejected by the first check each failed.", ""]
    lines += ["| domain | proposed | kept | rejected by reason |", "|---|---:|---:|---|"]
    for domain in sorted(written):
        proposals = written[domain]["proposals"]
        reasons = ", ".join(f"{check} {count:,}" for check, count in proposals["rejected"].items()) or "none"
        lines.append(f"| {domain} | {proposals['proposed']:,} | {proposals['kept']:,} | {reasons} |")
    return lines


def _figures_row(name: str, figures: Mapping[str, Any]) -> str:
    ratio = figures["reason_for_call_3gram_ratio"]
    kinds = [f"{figures['kinds'].get(kind, 0):,}" for kind in KINDS]
    share = figures["near_duplicate_share"]
    return f"| {name} | {ratio['mean']:.2f} | {ratio['min']:.2f} | {share:.1%} | " + " | ".join(kinds) + " |"


def _row(name: str, numbers: Sequence[int]) -> str:
    return f"| {name} | " + " | ".join(f"{number:,}" for number in numbers) + " |"
