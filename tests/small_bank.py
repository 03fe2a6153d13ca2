"""The bank domain at 150 callers and its task grammar, built once per test process for the tests that
synthesize from it (records, the scenario writer, proposals)."""

from __future__ import annotations

from functools import cache

from toolscale.domain.loader import domain_dir, load_domain
from toolscale.engine.database import DomainDatabase
from toolscale.populate.stage import populate
from toolscale.tasks.grammar import GRAMMAR_FILE, TaskGrammar, load_grammar


@cache
def bank() -> DomainDatabase:
    return populate(load_domain("bank"), 150, seed=0)


@cache
def grammar() -> TaskGrammar:
    return load_grammar(domain_dir("bank") / GRAMMAR_FILE, load_domain("bank"))
