"""A small pipeline output (shards and card, two domains, train and test splits) for the eval's tests."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import yaml

from tests.train_tasks import bank_tasks
from toolscale.data.card import card_configs
from toolscale.data.export import domain_shards, write_files
from toolscale.domain.loader import domain_dir, load_domain
from toolscale.populate.stage import populate
from toolscale.tasks.grammar import GRAMMAR_FILE, load_grammar
from toolscale.tasks.preference import SynthesisConfig
from toolscale.tasks.record import ToolScaleTask
from toolscale.tasks.run import synthesize_domain


@cache
def weather_tasks() -> tuple[ToolScaleTask, ...]:
    spec = load_domain("weather")
    grammar = load_grammar(domain_dir("weather") / GRAMMAR_FILE, spec)
    return tuple(synthesize_domain(populate(spec, 30, seed=0), grammar, SynthesisConfig(), seed=0, indices=range(16)).kept)


def write_output(root: Path, test_per_domain: int = 6) -> dict[str, list[ToolScaleTask]]:
    """Shards of bank and weather tasks: the first `test_per_domain` of each in test, four more in train."""
    splits: dict[str, list[ToolScaleTask]] = {"test": [], "train": []}
    counts = {}
    digest = hashlib.sha256()
    for domain, tasks in (("bank", bank_tasks()), ("weather", weather_tasks())):
        groups = {"test": list(tasks[:test_per_domain]), "train": list(tasks[test_per_domain : test_per_domain + 4])}
        files = domain_shards(domain, groups, shard_size=4)
        write_files(root, files)
        for path in sorted(files):
            digest.update(files[path])
        counts[domain] = {split: len(members) for split, members in groups.items()}
        for split, members in groups.items():
            splits[split] += members
    # The content digest keys datasets' cache of the folder: a fixed one would load rows of an older schema.
    card = {"configs": card_configs(counts, 0, digest.hexdigest()[:16])}
    (root / "README.md").write_text(f"---\n{yaml.safe_dump(card)}---\n", encoding="utf-8")
    return splits
