"""τ²-bench's retail database <-> the relational tables of `domains/retail`.

Upstream keeps one nested JSON object: `products`, `users` and `orders`, each keyed by record id,
with variants, payment methods, order items, fulfillments and payment history nested inside. Here
every nested list or map is a child table with a `position` column, so its order survives, and a
user's list of order ids is the `user_position` column of `orders`. Converting back gives the
upstream shape with the seven optional order fields always present (null when unset), as
upstream's own serialization of an order does.

Option maps are stored as canonical JSON, so their keys come back sorted; JSON equality (and
upstream's hash, which sorts keys) does not depend on key order.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from toolscale.domain.loader import domain_dir, load_domain
from toolscale.engine.database import DomainDatabase
from toolscale.engine.environment import Environment
from toolscale.engine.tools import DECODERS
from toolscale.spec.models import DomainSpec

Record = dict[str, Any]
Rows = dict[str, list[dict[str, Any]]]
# {"users": {user_id: record | None}, "orders": {...}, "products": {...}}: upstream's diff format.
UpstreamDiff = dict[str, dict[str, Record | None]]

DOMAIN = "retail"
DATA_FILE = "tau2_db.json"
# Upstream's 114 retail tasks and the record of replaying their gold actions on upstream's own
# environment, shipped beside the database (domains/retail/NOTICE.md says where each came from).
TASKS_FILE = "tau2_tasks.json"
GOLD_REPLAY_FILE = "tau2_gold_replay.jsonl"
SECTIONS = ("users", "orders", "products")
ADDRESS_FIELDS = ("address1", "address2", "city", "country", "state", "zip")
OPTIONAL_ORDER_FIELDS = (
    "cancel_reason",
    "exchange_items",
    "exchange_new_items",
    "exchange_payment_method_id",
    "exchange_price_difference",
    "return_items",
    "return_payment_method_id",
)
_PAYMENT_METHOD_FIELDS = ("brand", "last_four", "balance")

# Which upstream record each table's rows belong to: (section, the row's column holding its key).
# An `orders` row also shapes its user's record (the user's list of order ids).
OWNERS: dict[str, tuple[tuple[str, str], ...]] = {
    "products": (("products", "product_id"),),
    "variants": (("products", "product_id"),),
    "users": (("users", "user_id"),),
    "payment_methods": (("users", "user_id"),),
    "orders": (("orders", "order_id"), ("users", "user_id")),
    "order_items": (("orders", "order_id"),),
    "fulfillments": (("orders", "order_id"),),
    "payments": (("orders", "order_id"),),
}
# The tables a record of each section is rendered from, and the column naming the record in each.
SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "products": (("products", "product_id"), ("variants", "product_id")),
    "users": (("users", "user_id"), ("payment_methods", "user_id"), ("orders", "user_id")),
    "orders": (("orders", "order_id"), ("order_items", "order_id"), ("fulfillments", "order_id"), ("payments", "order_id")),
}


# The read tool that renders one record of each section, and its key parameter.
RECORD_TOOLS = {
    "users": ("get_user_details", "user_id"),
    "orders": ("get_order_details", "order_id"),
    "products": ("get_product_details", "product_id"),
}


class ConversionError(ValueError):
    """Upstream data that does not fit the relational layout; the message names the record."""


def data_path() -> Path:
    return domain_dir(DOMAIN) / DATA_FILE


def tasks_path() -> Path:
    return domain_dir(DOMAIN) / TASKS_FILE


def gold_replay_path() -> Path:
    return domain_dir(DOMAIN) / GOLD_REPLAY_FILE


def load_upstream(path: Path | None = None) -> dict[str, Any]:
    """Upstream's db.json (the copy shipped with the domain unless `path` is given)."""
    data: dict[str, Any] = json.loads((path or data_path()).read_text(encoding="utf-8"))
    return data


# -- upstream JSON -> rows ----------------------------------------------------------------------


def rows_from_upstream(db: Mapping[str, Any]) -> Rows:
    """The domain's table rows for an upstream database, records in their upstream order."""
    missing = [section for section in SECTIONS if section not in db]
    if missing:
        raise ConversionError(f"upstream database lacks section(s) {missing}")
    rows: Rows = {table: [] for table in OWNERS}
    for product_id, product in db["products"].items():
        rows["products"].append({"product_id": product["product_id"], "name": product["name"]})
        _check_key("products", product_id, product["product_id"])
        for position, (item_id, variant) in enumerate(product["variants"].items()):
            _check_key(f"products[{product_id}].variants", item_id, variant["item_id"])
            rows["variants"].append(
                {
                    "product_id": product_id,
                    "position": position,
                    **{key: variant[key] for key in ("item_id", "options", "available", "price")},
                }
            )
    user_positions: dict[str, tuple[str, int]] = {}
    for user_id, user in db["users"].items():
        _check_key("users", user_id, user["user_id"])
        rows["users"].append(
            {"user_id": user_id, **user["name"], **{key: user["address"][key] for key in ADDRESS_FIELDS}, "email": user["email"]}
        )
        for position, (method_id, method) in enumerate(user["payment_methods"].items()):
            _check_key(f"users[{user_id}].payment_methods", method_id, method["id"])
            unknown = set(method) - {"source", "id", *_PAYMENT_METHOD_FIELDS}
            if unknown:
                raise ConversionError(f"users[{user_id}].payment_methods[{method_id}]: unknown field(s) {sorted(unknown)}")
            rows["payment_methods"].append(
                {"id": method_id, "user_id": user_id, "position": position, "source": method["source"]}
                | {key: method.get(key) for key in _PAYMENT_METHOD_FIELDS}
            )
        for position, order_id in enumerate(user["orders"]):
            if order_id in user_positions:
                raise ConversionError(
                    f"users[{user_id}].orders: order {order_id} is also listed by {user_positions[order_id][0]}"
                )
            user_positions[order_id] = (user_id, position)
    for order_id, order in db["orders"].items():
        _check_key("orders", order_id, order["order_id"])
        owner = user_positions.get(order_id)
        if owner is None or owner[0] != order["user_id"]:
            raise ConversionError(f"orders[{order_id}]: not listed in the orders of its user {order['user_id']!r}")
        rows["orders"].append(
            {"order_id": order_id, "user_id": order["user_id"], "user_position": owner[1]}
            | {key: order["address"][key] for key in ADDRESS_FIELDS}
            | {"status": order["status"]}
            | {key: order.get(key) for key in OPTIONAL_ORDER_FIELDS}
        )
        for position, item in enumerate(order["items"]):
            rows["order_items"].append(
                {"order_item_id": f"{order_id}/{position}", "order_id": order_id, "position": position} | item
            )
        for position, fulfillment in enumerate(order["fulfillments"]):
            rows["fulfillments"].append(
                {"fulfillment_id": f"{order_id}/{position}", "order_id": order_id, "position": position} | fulfillment
            )
        for position, payment in enumerate(order["payment_history"]):
            rows["payments"].append(
                {"payment_id": f"{order_id}/{position}", "order_id": order_id, "position": position} | payment
            )
    return rows


def _check_key(where: str, key: str, declared: str) -> None:
    if key != declared:
        raise ConversionError(f"{where}: record keyed {key!r} declares id {declared!r}")


# -- rows -> upstream JSON ----------------------------------------------------------------------


def upstream_from_rows(rows: Mapping[str, Iterable[Mapping[str, Any]]]) -> dict[str, dict[str, Record]]:
    """The upstream database for table rows; records keep the order of their rows."""
    grouped: dict[str, dict[str, list[Mapping[str, Any]]]] = {table: defaultdict(list) for table in OWNERS}
    for sources in SOURCES.values():
        for table, column in sources[1:]:
            for row in rows.get(table, ()):
                grouped[table][row[column]].append(row)
    return {
        "users": {
            row["user_id"]: user_record(row, grouped["payment_methods"][row["user_id"]], grouped["orders"][row["user_id"]])
            for row in rows.get("users", ())
        },
        "orders": {
            row["order_id"]: order_record(
                row,
                grouped["order_items"][row["order_id"]],
                grouped["fulfillments"][row["order_id"]],
                grouped["payments"][row["order_id"]],
            )
            for row in rows.get("orders", ())
        },
        "products": {
            row["product_id"]: product_record(row, grouped["variants"][row["product_id"]]) for row in rows.get("products", ())
        },
    }


def _by_position(rows: Iterable[Mapping[str, Any]], column: str = "position") -> list[Mapping[str, Any]]:
    return sorted(rows, key=lambda row: int(row[column]))


def product_record(product: Mapping[str, Any], variants: Iterable[Mapping[str, Any]]) -> Record:
    return {
        "name": product["name"],
        "product_id": product["product_id"],
        "variants": {
            variant["item_id"]: {key: variant[key] for key in ("item_id", "options", "available", "price")}
            for variant in _by_position(variants)
        },
    }


def user_record(
    user: Mapping[str, Any], payment_methods: Iterable[Mapping[str, Any]], orders: Iterable[Mapping[str, Any]]
) -> Record:
    methods: dict[str, Record] = {}
    for method in _by_position(payment_methods):
        shaped: Record = {"source": method["source"], "id": method["id"]}
        shaped.update({key: method[key] for key in _PAYMENT_METHOD_FIELDS if method[key] is not None})
        methods[method["id"]] = shaped
    return {
        "user_id": user["user_id"],
        "name": {"first_name": user["first_name"], "last_name": user["last_name"]},
        "address": {key: user[key] for key in ADDRESS_FIELDS},
        "email": user["email"],
        "payment_methods": methods,
        "orders": [order["order_id"] for order in _by_position(orders, "user_position")],
    }


def order_record(
    order: Mapping[str, Any],
    items: Iterable[Mapping[str, Any]],
    fulfillments: Iterable[Mapping[str, Any]],
    payments: Iterable[Mapping[str, Any]],
) -> Record:
    return {
        "order_id": order["order_id"],
        "user_id": order["user_id"],
        "address": {key: order[key] for key in ADDRESS_FIELDS},
        "items": [
            {key: item[key] for key in ("name", "product_id", "item_id", "price", "options")} for item in _by_position(items)
        ],
        "status": order["status"],
        "fulfillments": [{"tracking_id": f["tracking_id"], "item_ids": f["item_ids"]} for f in _by_position(fulfillments)],
        "payment_history": [
            {key: payment[key] for key in ("transaction_type", "amount", "payment_method_id")}
            for payment in _by_position(payments)
        ],
        **{key: order[key] for key in OPTIONAL_ORDER_FIELDS},
    }


# -- databases, episodes and diffs --------------------------------------------------------------


def build_database(db: Mapping[str, Any] | None = None, spec: DomainSpec | None = None) -> DomainDatabase:
    """The retail domain database built from an upstream database (the shipped copy by default)."""
    return DomainDatabase.build(spec or load_domain(DOMAIN), rows_from_upstream(db if db is not None else load_upstream()))


def read_rows(environment: Environment) -> Rows:
    """Decoded rows of every table of the episode, in rowid (upstream record) order."""
    rows: Rows = {}
    for table in environment.spec.tables:
        names = [column.name for column in table.columns]
        decoders = [DECODERS[column.type] for column in table.columns]
        rows[table.name] = [
            {name: decode(value) for name, decode, value in zip(names, decoders, row, strict=True)}
            for row in environment.query(f"SELECT {', '.join(names)} FROM {table.name} ORDER BY rowid")
        ]
    return rows


def export_upstream(environment: Environment) -> dict[str, dict[str, Record]]:
    """The episode's whole current state in upstream's shape."""
    return upstream_from_rows(read_rows(environment))


def changed_records(environment: Environment) -> dict[str, set[str]]:
    """Keys of the upstream records whose rows changed in this episode, per section."""
    keys: dict[str, set[str]] = {section: set() for section in SECTIONS}
    for table, changes in environment.state_diff().items():
        for change in changes.values():
            for image in (change["before"], change["after"]):
                if image is None:
                    continue
                for section, column in OWNERS[table]:
                    keys[section].add(image[column])
    return keys


def records(environment: Environment, keys: Mapping[str, set[str]]) -> dict[str, dict[str, Record]]:
    """The current upstream records with the given keys (absent keys are left out).

    A record is rendered by the domain's own read tool for its section, whose output is the upstream
    record shape (the conformance test checks it against upstream's outputs); it costs a few indexed
    queries, where reading the rows of each child table would cost a savepoint each.
    """
    found: dict[str, dict[str, Record]] = {section: {} for section in SECTIONS}
    for section, (tool, parameter) in RECORD_TOOLS.items():
        for key in keys.get(section, ()):
            observation = environment.call(tool, {parameter: key})
            if observation.ok:
                found[section][key] = observation.output
    return found


def canonical(value: Any) -> str:
    """Upstream's canonical JSON: sorted keys, default separators, ASCII, shortest floats (types kept)."""
    return json.dumps(value, sort_keys=True)


def upstream_hash(db: Mapping[str, Any]) -> str:
    """Upstream's database hash (SHA-256 of the canonical JSON), as in gold_replay.jsonl."""
    return hashlib.sha256(canonical(db).encode()).hexdigest()


class UpstreamHasher:
    """Upstream's database hash after a diff, without serializing the whole database again: the
    canonical JSON of a dict with sorted keys is its entries' texts joined in key order, so each
    record's text is made once and only changed records are serialized anew."""

    def __init__(self, initial: Mapping[str, Mapping[str, Record]]) -> None:
        self._texts = {section: {key: canonical(record) for key, record in initial[section].items()} for section in SECTIONS}
        self.initial_hash = self.hash_after({})

    def hash_after(self, diff: Mapping[str, Mapping[str, Record | None]]) -> str:
        sections = []
        for section in sorted(SECTIONS):
            texts = dict(self._texts[section])
            for key, record in diff.get(section, {}).items():
                if record is None:
                    texts.pop(key, None)
                else:
                    texts[key] = canonical(record)
            entries = ", ".join(f"{canonical(key)}: {texts[key]}" for key in sorted(texts))
            sections.append(f"{canonical(section)}: {{{entries}}}")
        return hashlib.sha256(("{" + ", ".join(sections) + "}").encode()).hexdigest()


def final_db_diff(environment: Environment, initial: Mapping[str, Mapping[str, Record]]) -> UpstreamDiff:
    """Upstream's `final_db_diff`: every record that is new or differs from `initial` (complete,
    as it is now), None for a deleted one; records are compared by content, types included."""
    keys = changed_records(environment)
    current = records(environment, keys)
    diff: UpstreamDiff = {section: {} for section in SECTIONS}
    for section in SECTIONS:
        for key in sorted(keys[section]):
            now = current[section].get(key)
            before = initial[section].get(key)
            if now is None:
                if before is not None:
                    diff[section][key] = None
            # Python's == says 1 == 1.0, so records it finds equal are compared again by canonical text.
            elif before is None or now != before or canonical(now) != canonical(before):
                diff[section][key] = now
    return diff
