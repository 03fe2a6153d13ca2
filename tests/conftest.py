"""Shared fixtures: the example bank built from its hand-written rows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolscale.domain.loader import load_domain, load_spec
from toolscale.engine.database import DomainDatabase
from toolscale.examples import example_database
from toolscale.spec.models import DomainSpec

os.environ.setdefault("RAY_AUTH_MODE", "disabled")


@pytest.fixture(scope="session")
def bank_spec() -> DomainSpec:
    return load_domain("bank")


@pytest.fixture(scope="session")
def bank_db() -> DomainDatabase:
    return example_database("bank")


TINY_SPEC = Path(__file__).parent / "data" / "tiny" / "domain.yaml"
TINY_ROWS = {
    "customers": [{"customer_id": "C1", "email": "c1@example.com"}],
    "orders": [{"order_id": 1, "customer_id": "C1", "status": "open", "total": 0.0, "limit_amount": 100.0}],
}


@pytest.fixture(scope="session")
def tiny_spec() -> DomainSpec:
    return load_spec(TINY_SPEC)


@pytest.fixture(scope="session")
def tiny_db(tiny_spec: DomainSpec) -> DomainDatabase:
    return DomainDatabase.build(tiny_spec, TINY_ROWS)
