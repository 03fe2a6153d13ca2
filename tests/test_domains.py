"""ToolScale's ten domains: each validates, meets the shape bar, and every tool works and refuses.

The tool test is generic: each domain's `examples/probes.yaml` names candidate arguments by SQL, and
`tests/probing.py` finds a call that succeeds and, per precondition, a call that fails exactly there.
"""

from __future__ import annotations

from functools import cache

import pytest

from tests.probing import Prober, read_probes
from toolscale.authoring.prober import matches_template
from toolscale.domain.loader import domain_dir, load_domain
from toolscale.engine.database import DomainDatabase
from toolscale.populate.stage import populate

DOMAINS = ["bank", "basketball", "ecommerce", "medicine", "movie", "railway", "restaurant", "school", "travel", "weather"]
# Small enough to be fast, large enough that rare statuses occur.
PROBE_SIZE = 120


@cache
def probe_database(domain: str) -> DomainDatabase:
    return populate(load_domain(domain), PROBE_SIZE, seed=0)


@pytest.mark.parametrize("domain", DOMAINS)
def test_domain_meets_the_bar(domain: str) -> None:
    spec = load_domain(domain)
    # Catalogues (tables of fixed `data` rows, e.g. plans) are reference data, not entities of the domain.
    entities = [table for table in spec.tables if table.data is None]
    assert 4 <= len(entities) <= 8, f"{domain}: {len(entities)} tables besides catalogues"
    assert 12 <= len(spec.tools) <= 25, f"{domain}: {len(spec.tools)} tools"
    kinds = {tool.kind for tool in spec.tools}
    assert kinds == {"read", "write"}
    assert sum(1 for tool in spec.tools if tool.kind == "write") >= 5
    policy = (domain_dir(domain) / "policy.md").read_text(encoding="utf-8").lower()
    for topic in ("authentica", "confirm", "refuse"):
        assert topic in policy, f"{domain}/policy.md does not cover {topic!r}"
    # Tables reference each other: no flat domain.
    assert sum(1 for table in spec.tables for column in table.columns if column.references) >= len(spec.tables) - 1


def test_the_ten_domains_have_at_least_150_tools() -> None:
    assert sum(len(load_domain(domain).tools) for domain in DOMAINS) >= 150


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_tool_succeeds_once_and_fails_at_each_precondition(domain: str) -> None:
    database = probe_database(domain)
    probes = read_probes(domain_dir(domain))
    assert sorted(probes) == sorted(database.tools), "probes.yaml must cover exactly the domain's tools"
    prober = Prober(database)
    problems: list[str] = []
    try:
        for name, tool in database.tools.items():
            found = prober.probe(tool, probes[name])
            successes = 0
            for arguments in found.passing:
                with database.fork() as environment:
                    observation = environment.call(name, arguments)
                    if observation.ok:
                        successes += 1
                        if tool.writes and not environment.state_diff():
                            problems.append(f"{name}({arguments}): write succeeded but changed nothing")
                        break
            if not successes:
                problems.append(f"{name}: no candidate succeeds ({len(found.passing)} pass the preconditions)")
            with database.fork() as environment:
                before = environment.state_hash()
                for index in range(len(tool.spec.preconditions)):
                    if index not in found.failing:
                        problems.append(
                            f"{name}: no candidate fails precondition {index} ({tool.spec.preconditions[index].error})"
                        )
                        continue
                    arguments = found.failing[index]
                    observation = environment.call(name, arguments)
                    expected = tool.spec.preconditions[index].error
                    if observation.precondition != index or not matches_template(expected, observation.error):
                        problems.append(
                            f"{name}({arguments}): expected precondition {index}'s {expected!r}, got {observation.content!r}"
                        )
                    if environment.state_hash() != before:
                        problems.append(f"{name}({arguments}): a failed call changed the state")
    finally:
        prober.close()
    assert not problems, "\n".join(problems)
