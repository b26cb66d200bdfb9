"""The audit over a real database: complete and clean orders pass, every kind of damage shows."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy import Engine, update

from orderflow.domain.catalog import DEFAULT_WAREHOUSE, WAREHOUSES
from orderflow.domain.models import ServiceLevel
from orderflow.store import Store
from orderflow.store.audit import run_audit
from orderflow.store.tables import stock

from .helpers import priced

NewId = Callable[[str], str]


def complete_order(store: Store, order_id: str) -> None:
    """Charge, reserve and book, as a successful order does."""
    store.charge(order_id, Decimal("24.97"), f"{order_id}:charge")
    store.reserve(order_id, [priced("TEE-BLACK-M", 1), priced("STICKER-PACK", 1)])
    store.book_shipment(order_id, ServiceLevel.STANDARD, Decimal("4.30"))


@pytest.fixture
def stocked(store: Store) -> Store:
    """The store with ten of every SKU the audit tests use."""
    for sku in ("TEE-BLACK-M", "STICKER-PACK", "MUG-LOGO"):
        store.restock(sku, 10)
    return store


def test_an_empty_database_passes_the_audit(stocked: Store, engine: Engine) -> None:
    report = run_audit(engine, keep_states=True)

    assert report.ok
    assert report.violations == []
    assert report.orders_checked == 0


def test_a_charged_reserved_and_shipped_order_is_complete(
    stocked: Store, engine: Engine, new_order_id: NewId
) -> None:
    order_id = new_order_id("done")
    complete_order(stocked, order_id)

    report = run_audit(engine, keep_states=True)

    assert report.ok, report.violations
    assert report.states == {order_id: "complete"}
    assert (report.complete, report.clean, report.orders_checked) == (1, 0, 1)


@pytest.mark.parametrize("booked_before_failure", [False, True], ids=["unbooked", "booked"])
def test_a_failed_and_fully_compensated_order_is_clean(
    stocked: Store, engine: Engine, new_order_id: NewId, booked_before_failure: bool
) -> None:
    order_id = new_order_id("undone")
    stocked.charge(order_id, Decimal("12.00"), f"{order_id}:charge")
    stocked.reserve(order_id, [priced("MUG-LOGO", 1)])
    if booked_before_failure:
        stocked.book_shipment(order_id, ServiceLevel.STANDARD, Decimal("4.30"))
    stocked.release(order_id)
    stocked.refund(order_id, f"{order_id}:refund")
    stocked.cancel_shipment(order_id)

    report = run_audit(engine, keep_states=True)

    assert report.ok, report.violations
    assert report.states == {order_id: "clean"}
    assert (report.complete, report.clean) == (0, 1)


def test_a_charge_without_a_shipment_is_reported_as_charged_but_not_shipped(
    stocked: Store, engine: Engine, new_order_id: NewId
) -> None:
    order_id = new_order_id("orphan")
    stocked.charge(order_id, Decimal("12.00"), f"{order_id}:charge")

    report = run_audit(engine, keep_states=True)

    assert not report.ok
    assert report.violations == [f"order {order_id}: charged 12.00 but not shipped"]
    assert report.orphaned_charges == 1
    assert report.states == {order_id: "inconsistent"}


def test_two_charges_under_different_keys_are_reported_as_a_duplicate_charge(
    stocked: Store, engine: Engine, new_order_id: NewId
) -> None:
    order_id = new_order_id("double")
    stocked.charge(order_id, Decimal("24.97"), f"{order_id}:attempt-1")
    complete_order(stocked, order_id)  # its own key: the second charge

    report = run_audit(engine, keep_states=True)

    assert not report.ok
    assert report.duplicate_charges == 1
    assert len(report.violations) == 1
    assert report.violations[0].startswith(f"order {order_id}: ")
    assert "charged 2 times" in report.violations[0]
    assert report.complete == 0


def test_stock_held_for_an_order_without_a_shipment_is_an_orphaned_reservation(
    stocked: Store, engine: Engine, new_order_id: NewId
) -> None:
    order_id = new_order_id("held")
    stocked.reserve(order_id, [priced("MUG-LOGO", 2)])

    report = run_audit(engine, keep_states=True)

    assert not report.ok
    assert report.orphaned_reservations == 1
    assert report.violations == [f"order {order_id}: 2 unit(s) held but not shipped"]


def test_a_shipment_nobody_paid_for_is_reported(
    stocked: Store, engine: Engine, new_order_id: NewId
) -> None:
    order_id = new_order_id("free-ride")
    stocked.reserve(order_id, [priced("MUG-LOGO", 1)])
    stocked.book_shipment(order_id, ServiceLevel.STANDARD, Decimal("4.30"))

    report = run_audit(engine, keep_states=True)

    assert not report.ok
    assert report.violations == [f"order {order_id}: shipment booked but not paid"]


def test_order_prefix_limits_the_per_order_checks_to_matching_orders(
    stocked: Store, engine: Engine, new_order_id: NewId
) -> None:
    good = new_order_id("good-run")
    bad = new_order_id("bad-run")
    complete_order(stocked, good)
    stocked.charge(bad, Decimal("12.00"), f"{bad}:charge")

    good_only = run_audit(engine, order_prefix="good-run-")
    bad_only = run_audit(engine, order_prefix="bad-run-")
    everything = run_audit(engine)

    assert good_only.ok
    assert good_only.states == {good: "complete"}
    assert not bad_only.ok
    assert bad_only.states == {bad: "inconsistent"}
    assert everything.orders_checked == 2
    assert everything.violations == bad_only.violations


def test_order_prefix_matches_underscore_and_percent_literally(
    stocked: Store, engine: Engine, new_order_id: NewId
) -> None:
    # A LIKE wildcard in the prefix must not pull in other runs' orders.
    lookalike = new_order_id("runX1")
    stocked.charge(lookalike, Decimal("12.00"), f"{lookalike}:charge")

    report = run_audit(engine, order_prefix="run_1")
    wildcard = run_audit(engine, order_prefix="%")

    assert report.orders_checked == 0
    assert report.ok
    assert wildcard.orders_checked == 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (+1, "initial 10 != available 9 + held 2"),
        (-1, "initial 10 != available 7 + held 2"),
    ],
    ids=["units-appeared", "units-vanished"],
)
def test_tampered_stock_is_reported_by_sku(
    stocked: Store, engine: Engine, new_order_id: NewId, change: int, expected: str
) -> None:
    order_id = new_order_id("tamper")
    stocked.reserve(order_id, [priced("MUG-LOGO", 2)])
    stocked.book_shipment(order_id, ServiceLevel.STANDARD, Decimal("4.30"))
    stocked.charge(order_id, Decimal("24.00"), f"{order_id}:charge")
    assert run_audit(engine).ok

    with engine.begin() as conn:
        conn.execute(
            update(stock)
            .where(stock.c.warehouse == DEFAULT_WAREHOUSE, stock.c.sku == "MUG-LOGO")
            .values(available=stock.c.available + change)
        )
    report = run_audit(engine, keep_states=True)

    assert not report.ok
    assert report.violations == [f"stock MUG-LOGO in {DEFAULT_WAREHOUSE}: {expected}"]
    assert report.oversold_units == max(0, change)


def test_stock_conservation_is_checked_even_when_scoped_to_a_prefix(
    stocked: Store, engine: Engine, new_order_id: NewId
) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(stock)
            .where(stock.c.warehouse == DEFAULT_WAREHOUSE, stock.c.sku == "TEE-BLACK-M")
            .values(available=11)
        )

    report = run_audit(engine, order_prefix=new_order_id("nothing-matches"))

    assert report.orders_checked == 0
    assert not report.ok
    assert report.violations == [
        f"stock TEE-BLACK-M in {DEFAULT_WAREHOUSE}: initial 10 != available 11 + held 0"
    ]


def test_stock_held_in_a_warehouse_that_ships_nothing_is_reported(
    stocked: Store, engine: Engine, new_order_id: NewId
) -> None:
    east, west = WAREHOUSES[0], WAREHOUSES[1]
    stocked.restock("CAP-NAVY", 5, west)
    order_id = new_order_id("half-shipped")
    stocked.charge(order_id, Decimal("36.90"), f"{order_id}:charge")
    stocked.reserve(order_id, [priced("MUG-LOGO", 1)], east)
    stocked.reserve(order_id, [priced("CAP-NAVY", 1)], west)
    stocked.book_shipment(order_id, ServiceLevel.STANDARD, Decimal("4.30"), east)

    report = run_audit(engine, keep_states=True)

    assert not report.ok
    assert report.states == {order_id: "inconsistent"}


def test_an_outcome_the_database_contradicts_is_reported(
    stocked: Store, engine: Engine, new_order_id: NewId
) -> None:
    completed_but_empty = new_order_id("claims-completed")
    failed_but_charged = new_order_id("claims-failed")
    stocked.record_outcome(completed_but_empty, "COMPLETED", Decimal("10.00"), "")
    stocked.charge(failed_but_charged, Decimal("5.00"), f"{failed_but_charged}:payment")
    stocked.record_outcome(failed_but_charged, "FAILED", Decimal("5.00"), "payment: boom")

    report = run_audit(engine, keep_states=True)

    assert not report.ok
    assert f"order {completed_but_empty}: recorded COMPLETED but the database says clean" in (
        report.violations
    )
    assert any(
        v.startswith(f"order {failed_but_charged}: recorded FAILED") for v in report.violations
    )


def test_the_audit_reads_a_chunk_of_orders_at_a_time_with_the_same_verdict(
    stocked: Store, engine: Engine, new_order_id: NewId, monkeypatch: pytest.MonkeyPatch
) -> None:
    import orderflow.store.audit as audit

    ids = [new_order_id(f"c{index}") for index in range(5)]
    for order_id in ids[:4]:
        complete_order(stocked, order_id)
    stocked.charge(ids[4], Decimal("9.99"), f"{ids[4]}:charge")  # charged, never shipped
    whole = run_audit(engine, keep_states=True)
    monkeypatch.setattr(audit, "CHUNK_ORDERS", 2)
    chunks = list(audit.order_chunks(engine, size=2))
    chunked = run_audit(engine, keep_states=True)

    assert len(chunks) == 3  # 5 orders, 2 at a time
    assert chunked.model_dump() == whole.model_dump()
    assert chunked.states == whole.states and len(chunked.states) == 5
    assert chunked.orphaned_charges == 1 and chunked.complete == 4
