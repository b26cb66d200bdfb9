"""Races on PostgreSQL, where transactions really run in parallel (SQLite queues writers).

Each test gives every thread its own connection (pool of 50) and starts them together.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import TypeVar

import pytest
from sqlalchemy import Engine, func, select

from orderflow.domain.catalog import CATALOG
from orderflow.domain.errors import AlreadyCompensated, OutOfStock
from orderflow.store import Store, make_engine
from orderflow.store.audit import run_audit
from orderflow.store.tables import payments

from .helpers import held_reservations, ledger, priced

THREADS = 50
T = TypeVar("T")
U = TypeVar("U")


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url, pool_size=THREADS // 2)  # up to THREADS connections
    assert engine.dialect.name == "postgresql"
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def pg_store(pg_engine: Engine) -> Store:
    store = Store(pg_engine)
    store.create_schema()
    store.seed_catalog(CATALOG)
    return store


def race(work: Callable[[T], U], items: list[T]) -> list[U]:
    """Run ``work`` on every item, each in its own thread, all released at the same moment."""
    start = threading.Barrier(len(items))

    def run(item: T) -> U:
        start.wait(timeout=30)
        return work(item)

    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(run, items))


def test_fifty_orders_racing_for_ten_units_sell_exactly_ten(
    pg_store: Store, pg_engine: Engine, new_order_id: Callable[[str], str]
) -> None:
    pg_store.restock("VINYL-LIMITED", 10)
    order_ids = [new_order_id(f"race{i:02d}") for i in range(THREADS)]

    def buy(order_id: str) -> str:
        try:
            pg_store.reserve(order_id, [priced("VINYL-LIMITED", 1)])
        except OutOfStock:
            return "out of stock"
        return "reserved"

    outcomes = Counter(race(buy, order_ids))

    assert outcomes == Counter({"reserved": 10, "out of stock": THREADS - 10})
    assert pg_store.available()["VINYL-LIMITED"] == 0
    held = [held_reservations(pg_engine, order_id) for order_id in order_ids]
    assert sum(h.get("VINYL-LIMITED", 0) for h in held) == 10
    assert sorted(sum(h.values()) for h in held) == [0] * (THREADS - 10) + [1] * 10
    report = run_audit(pg_engine)
    assert report.oversold_units == 0
    assert not [v for v in report.violations if v.startswith("stock ")]


def test_fifty_retries_of_one_charge_record_it_once(
    pg_store: Store, pg_engine: Engine, new_order_id: Callable[[str], str]
) -> None:
    order_id = new_order_id("retried")
    key = f"{order_id}:charge"

    receipts = race(lambda _: pg_store.charge(order_id, Decimal("19.99"), key), [0] * THREADS)

    assert len({receipt.reference for receipt in receipts}) == 1
    assert ledger(pg_engine, order_id) == [("charge", Decimal("19.99"))]


def test_charges_racing_their_refunds_never_keep_money(
    pg_store: Store, pg_engine: Engine, new_order_id: Callable[[str], str]
) -> None:
    """Per order a charge and its refund arrive together (a timed-out attempt and the
    compensation): whichever wins, the customer ends up owing nothing."""
    order_ids = [new_order_id(f"pay{i:02d}") for i in range(THREADS // 2)]
    calls = [(order_id, kind) for order_id in order_ids for kind in ("charge", "refund")]

    def call(item: tuple[str, str]) -> str:
        order_id, kind = item
        if kind == "refund":
            pg_store.refund(order_id, f"{order_id}:refund")
            return "refunded"
        try:
            pg_store.charge(order_id, Decimal("12.00"), f"{order_id}:charge")
        except AlreadyCompensated:
            return "charge refused"
        return "charged"

    outcomes = Counter(race(call, calls))

    assert outcomes["refunded"] == len(order_ids)
    assert outcomes["charged"] + outcomes["charge refused"] == len(order_ids)
    for order_id in order_ids:
        assert ledger(pg_engine, order_id) in (
            [],  # the refund came first: the charge was refused
            [("charge", Decimal("12.00")), ("refund", Decimal("12.00"))],
        )
    with pg_engine.connect() as conn:
        charged = conn.scalar(
            select(func.count()).select_from(payments).where(payments.c.kind == "charge")
        )
    assert charged == outcomes["charged"]
    report = run_audit(pg_engine)
    assert report.ok, report.violations
    # The audit sees the orders that touched the ledger: those charged, then refunded.
    assert report.clean == report.orders_checked == outcomes["charged"]
