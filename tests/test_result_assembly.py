"""General spec features the retail port needed: nested results, derived values, fail_if
preconditions, and the engine's exact SQL functions (round_even, arithmetic)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from toolscale.domain.loader import load_spec
from toolscale.engine.database import DomainDatabase
from toolscale.engine.functions import evaluate
from toolscale.spec.models import DomainSpec

from .spec_helpers import assert_rejected, write_spec

SPEC: dict[str, Any] = yaml.safe_load(
    """
spec_version: 1
name: shop
description: A shop with owners, their cards and orders with lines.
clock: "2025-01-01T00:00:00"
caller: {table: owners, known: [owner_id]}
tables:
  - name: owners
    columns:
      - {name: owner_id, type: text, primary_key: true}
      - {name: first, type: text}
      - {name: last, type: text}
  - name: cards
    columns:
      - {name: card_id, type: text, primary_key: true}
      - {name: owner_id, type: text, references: owners.owner_id}
      - {name: position, type: integer}
      - {name: kind, type: text}
      - {name: balance, type: real, nullable: true}
  - name: lines
    columns:
      - {name: line_id, type: text, primary_key: true}
      - {name: owner_id, type: text, references: owners.owner_id}
      - {name: position, type: integer}
      - {name: sku, type: text}
      - {name: price, type: real}
      - {name: tags, type: json}
tools:
  - name: get_owner
    kind: read
    description: An owner with cards (a map by id, absent fields left out) and lines.
    parameters: {properties: {owner_id: {type: string}}, required: [owner_id]}
    result:
      query: SELECT owner_id, first, last, NULL AS cards, NULL AS skus, NULL AS lines FROM owners WHERE owner_id = :owner_id
      nest: {name: [first, last]}
      children:
        cards:
          query: SELECT card_id, kind, balance FROM cards WHERE owner_id = :owner_id ORDER BY position
          shape: map
          omit_null: true
        skus: {query: SELECT sku FROM lines WHERE owner_id = :owner_id ORDER BY position, shape: values}
        lines:
          query: SELECT sku, price, tags FROM lines WHERE owner_id = :owner_id ORDER BY position
          shape: rows
  - name: prices
    kind: read
    description: Price by sku.
    result:
      query: SELECT sku, price FROM lines ORDER BY sku
      shape: value_map
  - name: remove_skus
    kind: write
    description: Remove lines by sku; the message names the first sku that is not there.
    parameters:
      properties:
        owner_id: {type: string}
        skus: {type: array, items: {type: string}}
      required: [owner_id, skus]
    derived:
      removed_total: >-
        SELECT round_even(sum(price), 1) FROM lines
        WHERE owner_id = :owner_id AND sku IN (SELECT value FROM json_each(:skus))
    preconditions:
      - fail_if: >-
          SELECT wanted.value AS missing FROM json_each(:skus) AS wanted
          WHERE NOT EXISTS (SELECT 1 FROM lines WHERE owner_id = :owner_id AND sku = wanted.value)
          ORDER BY wanted.key LIMIT 1
        error: "{owner_id} has no line {missing}"
    effects:
      - DELETE FROM lines WHERE owner_id = :owner_id AND sku IN (SELECT value FROM json_each(:skus))
    result: {query: "SELECT :removed_total AS removed", shape: value, types: {removed: real}}
"""
)

ROWS = {
    "owners": [{"owner_id": "o1", "first": "Ada", "last": "Byron"}],
    "cards": [
        {"card_id": "gc", "owner_id": "o1", "position": 1, "kind": "gift", "balance": 5.5},
        {"card_id": "cc", "owner_id": "o1", "position": 0, "kind": "credit", "balance": None},
    ],
    "lines": [
        {"line_id": "l1", "owner_id": "o1", "position": 0, "sku": "b", "price": 0.1, "tags": ["x"]},
        {"line_id": "l2", "owner_id": "o1", "position": 1, "sku": "a", "price": 0.2, "tags": []},
    ],
}


@pytest.fixture
def spec(tmp_path: Path) -> DomainSpec:
    return load_spec(write_spec(tmp_path, SPEC))


def test_nested_result_assembles_objects_maps_and_lists(spec: DomainSpec) -> None:
    with DomainDatabase.build(spec, ROWS).fork() as env:
        observation = env.call("get_owner", {"owner_id": "o1"})
    assert observation.ok, observation.error
    assert observation.output == {
        "owner_id": "o1",
        "name": {"first": "Ada", "last": "Byron"},
        "cards": {"cc": {"kind": "credit"}, "gc": {"kind": "gift", "balance": 5.5}},
        "skus": ["b", "a"],
        "lines": [{"sku": "b", "price": 0.1, "tags": ["x"]}, {"sku": "a", "price": 0.2, "tags": []}],
    }
    # Keys keep the query's column order, the nested object standing where its first column was.
    assert list(observation.output) == ["owner_id", "name", "cards", "skus", "lines"]
    assert list(observation.output["cards"]) == ["cc", "gc"]


def test_value_map_shape(spec: DomainSpec) -> None:
    with DomainDatabase.build(spec, ROWS).fork() as env:
        assert env.call("prices").output == {"a": 0.2, "b": 0.1}


def test_derived_value_and_fail_if_message_from_the_row(spec: DomainSpec) -> None:
    database = DomainDatabase.build(spec, ROWS)
    with database.fork() as env:
        failed = env.call("remove_skus", {"owner_id": "o1", "skus": ["a", "zz", "yy"]})
        assert not failed.ok
        assert failed.error == "o1 has no line zz"
        assert env.state_hash() == database.state_hash
        done = env.call("remove_skus", {"owner_id": "o1", "skus": ["a", "b"]})
        # 0.1 + 0.2 = 0.30000000000000004, rounded as Python rounds.
        assert done.ok
        assert done.output == 0.3
        assert env.call("prices").output == {}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2 + 2", 4.0),
        ("(1 + 2) * 3 - 4 / 8", 8.5),
        ("-2 ** 2", -4.0),
        ("2 ** -1", 0.5),
        ("7 // 2", 3.0),
        ("1.5e3", "invalid character 'e' in expression"),
        ("1 / 0", "division by zero"),
        ("1.0 // 0", "float floor division by zero"),
        ("(1 + 2", "invalid syntax: unexpected end of expression"),
        ("1 2", "invalid syntax: unexpected '2'"),
        ("", "invalid syntax: unexpected end of expression"),
        ("012", "leading zeros in decimal integer literals are not permitted"),
        ("9 ** 9 ** 9 ** 9", "int too large to convert to float"),
        ("__import__('os')", "invalid character '_' in expression"),
    ],
)
def test_arithmetic_follows_python_without_evaluating_input(expression: str, expected: float | str) -> None:
    assert evaluate(expression) == expected
    if isinstance(expected, float):
        assert expected == float(eval(expression, {"__builtins__": {}}, {}))  # the reference semantics


def test_round_even_is_pythons_round(spec: DomainSpec) -> None:
    with DomainDatabase.build(spec, ROWS).fork() as env:
        values = [0.125, 2.675, 1.005, -0.125, 0.04999999999999716, 1e20]
        for value in values:
            ((ours, sqlite),) = env.query("SELECT round_even(?, 2), round(?, 2)", (value, value))
            assert ours == round(value, 2)
        ((sqlite,),) = env.query("SELECT round(0.125, 2)")
        assert sqlite != round(0.125, 2)  # why the engine ships its own


@pytest.mark.parametrize(
    ("mutate", "location", "reason"),
    [
        (
            lambda s: s["tools"][0]["result"]["nest"].update(name=["first", "nope"]),
            "tools[0].result.nest.name",
            "'nope' is not a column",
        ),
        (
            lambda s: s["tools"][0]["result"]["children"].update(extra={"query": "SELECT 1"}),
            "tools[0].result.children.extra",
            "not a column of the result query",
        ),
        (lambda s: s["tools"][1]["result"].update(query="SELECT sku FROM lines"), "tools[1].result.query", "exactly 2 columns"),
        (
            lambda s: s["tools"][2]["preconditions"][0].update(error="no {sku_name}"),
            "tools[2].preconditions[0].error",
            "placeholder {sku_name} is not a parameter nor a column of the fail_if query",
        ),
        (
            lambda s: s["tools"][2]["preconditions"][0].update(query="SELECT 1"),
            "tools[2].preconditions[0]",
            "exactly one of 'query' and 'fail_if'",
        ),
        (
            lambda s: s["tools"][2]["derived"].update(owner_id="SELECT 1"),
            "tools[2].derived.owner_id",
            "clashes with a parameter",
        ),
        (
            lambda s: s["tools"][2]["derived"].update(later="SELECT :removed_totals"),
            "tools[2].derived.later",
            "uses parameter :removed_totals",
        ),
    ],
)
def test_malformed_extensions_are_named(tmp_path: Path, mutate: Any, location: str, reason: str) -> None:
    spec = yaml.safe_load(yaml.safe_dump(SPEC))
    mutate(spec)
    assert_rejected(write_spec(tmp_path, spec), location, reason)
