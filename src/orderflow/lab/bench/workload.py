"""The bench's orders and stores: valid, single-warehouse orders over a fresh database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from orderflow.adapters.simulated import DECLINED_TOKENS
from orderflow.bootstrap import build_store
from orderflow.config import Settings
from orderflow.domain.catalog import CATALOG, DEFAULT_WAREHOUSE
from orderflow.domain.models import Order
from orderflow.lab.samples import generate_orders
from orderflow.store import Store

_KNOWN_SKUS = frozenset(product.sku for product in CATALOG)
#: Spare units per SKU beyond what the batch needs (nothing may run out mid-run).
_SPARE_UNITS = 50


def is_valid(order: Order) -> bool:
    """True for an order that will complete: a good card, an address, known SKUs."""
    address = order.address
    return (
        order.payment_token not in DECLINED_TOKENS
        and all((address.name, address.line1, address.city, address.postal_code, address.country))
        and bool(order.items)
        and all(item.sku in _KNOWN_SKUS and item.quantity > 0 for item in order.items)
    )


def bench_orders(count: int, seed: int, prefix: str) -> list[Order]:
    """``count`` seeded, valid orders (the demo's generator with its bad ones filtered out).

    The same seed gives the same baskets under any prefix, so every variant processes the
    same work.
    """
    if count <= 0:
        return []
    wanted = count
    while True:
        # About 78% of the generator's orders are valid; ask for enough to keep ``count``.
        candidates = [o for o in generate_orders(wanted * 2 + 10, seed, prefix) if is_valid(o)]
        if len(candidates) >= count:
            return candidates[:count]
        wanted *= 2  # pragma: no cover - the generator's mix makes this unreachable


def fresh_store(base: Settings, data_dir: Path, orders: Sequence[Order]) -> Store:
    """A new SQLite store in ``data_dir``: schema, catalog, and stock for ``orders``.

    All stock sits in the default warehouse, so allocation always plans one parcel and
    every order has the same shape (the one ``BareWorkflow`` mirrors).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    store = build_store(base.model_copy(update={"data_dir": data_dir, "database_url": ""}))
    needed: Counter[str] = Counter()
    for order in orders:
        for item in order.items:
            needed[item.sku] += item.quantity
    for product in CATALOG:
        store.restock(product.sku, needed[product.sku] + _SPARE_UNITS, DEFAULT_WAREHOUSE)
    return store
