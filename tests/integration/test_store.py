"""The store against a real database: idempotent side effects, tombstones, exact money, stock."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError, StatementError

from orderflow.domain.catalog import CATALOG, WAREHOUSES
from orderflow.domain.errors import AlreadyCompensated, OutOfStock
from orderflow.domain.models import ServiceLevel
from orderflow.store import Store
from orderflow.store.audit import run_audit
from orderflow.store.tables import payments, products, stock

from .helpers import held_reservations, ledger, priced, shipment_rows

NewId = Callable[[str], str]


# -- set-up ---------------------------------------------------------------------------------


def test_seeding_the_catalog_twice_adds_nothing_and_keeps_the_stock(
    store: Store, engine: Engine
) -> None:
    store.restock("MUG-LOGO", 7)
    with engine.connect() as conn:
        shelves_before = conn.scalar(select(func.count()).select_from(stock))

    store.seed_catalog(CATALOG)

    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(products)) == len(CATALOG)
        assert conn.scalar(select(func.count()).select_from(stock)) == shelves_before
    assert store.available()["MUG-LOGO"] == 7
    assert store.catalog()["MUG-LOGO"].unit_price == Decimal("12.00")


def test_restocking_an_unknown_sku_raises_key_error(store: Store) -> None:
    with pytest.raises(KeyError, match="NO-SUCH-SKU"):
        store.restock("NO-SUCH-SKU", 1)


def test_restocking_a_negative_number_of_units_is_refused(store: Store) -> None:
    store.restock("CAP-NAVY", 3)

    with pytest.raises(ValueError, match="negative"):
        store.restock("CAP-NAVY", -1)

    assert store.available()["CAP-NAVY"] == 3


def test_a_restock_repeated_with_its_key_adds_its_units_once(store: Store) -> None:
    store.restock("CAP-NAVY", 3, "WH-WEST", idempotency_key="count-1")
    again = store.restock("CAP-NAVY", 3, "WH-WEST", idempotency_key="count-1")

    assert again == store.availability()["WH-WEST"]["CAP-NAVY"] == 3
    with pytest.raises(ValueError, match="another restock"):
        store.restock("CAP-NAVY", 4, "WH-WEST", idempotency_key="count-1")
    assert store.availability()["WH-WEST"]["CAP-NAVY"] == 3
    assert run_audit(store.engine).ok


def test_setting_a_shelf_after_a_count_keeps_stock_conserved_and_held_units_held(
    store: Store, new_order_id: NewId
) -> None:
    order_id = new_order_id("o")
    store.restock("MUG-LOGO", 10)
    store.reserve(order_id, [priced("MUG-LOGO", 4)])

    assert store.set_stock("MUG-LOGO", 2) == 2
    assert store.set_stock("MUG-LOGO", 2) == 2  # idempotent

    assert store.availability()["WH-EAST"]["MUG-LOGO"] == 2
    assert held_reservations(store.engine, order_id) == {"MUG-LOGO": 4}
    stock_problems = [v for v in run_audit(store.engine).violations if v.startswith("stock ")]
    assert stock_problems == []  # initial = available + held still holds


def test_stock_levels_tell_held_units_from_shipped_ones(store: Store, new_order_id: NewId) -> None:
    shipping, waiting = new_order_id("s"), new_order_id("w")
    store.restock("STICKER-PACK", 10)
    store.reserve(shipping, [priced("STICKER-PACK", 3)])
    store.book_shipment(shipping, ServiceLevel.STANDARD, Decimal("4.30"))
    store.reserve(waiting, [priced("STICKER-PACK", 2)])

    levels = {(w, sku): rest for w, sku, *rest in store.stock_levels()}

    assert levels["WH-EAST", "STICKER-PACK"] == [5, 2, 3]  # available, held, shipped
    assert levels["WH-WEST", "STICKER-PACK"] == [0, 0, 0]


def test_the_store_keeps_one_identity(store: Store, engine: Engine) -> None:
    first = store.store_id

    assert first == Store(engine).store_id  # another process on the same database
    assert len(first) == 32


# -- payments -------------------------------------------------------------------------------


def test_charging_twice_with_the_same_key_records_one_charge_with_the_same_reference(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    order_id = new_order_id("charge")

    first = store.charge(order_id, Decimal("42.50"), f"{order_id}:charge")
    retry = store.charge(order_id, Decimal("42.50"), f"{order_id}:charge")

    assert retry.reference == first.reference
    assert retry.amount == first.amount == Decimal("42.50")
    assert ledger(engine, order_id) == [("charge", Decimal("42.50"))]


def test_charging_with_a_fresh_key_per_attempt_charges_the_customer_twice(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    # What the legacy processor does: a new key per retry, so the gateway sees two charges.
    order_id = new_order_id("legacy")

    first = store.charge(order_id, Decimal("19.99"), f"{order_id}:attempt-1")
    second = store.charge(order_id, Decimal("19.99"), f"{order_id}:attempt-2")

    assert first.reference != second.reference
    assert ledger(engine, order_id) == [
        ("charge", Decimal("19.99")),
        ("charge", Decimal("19.99")),
    ]


def test_refund_gives_back_everything_the_order_was_charged(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    order_id = new_order_id("refund")
    store.charge(order_id, Decimal("19.99"), f"{order_id}:attempt-1")
    store.charge(order_id, Decimal("19.99"), f"{order_id}:attempt-2")

    receipt = store.refund(order_id, f"{order_id}:refund")

    assert receipt.amount == Decimal("39.98")
    assert ledger(engine, order_id)[-1] == ("refund", Decimal("39.98"))


def test_refunding_twice_with_the_same_key_refunds_once(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    order_id = new_order_id("refund-twice")
    store.charge(order_id, Decimal("24.90"), f"{order_id}:charge")

    first = store.refund(order_id, f"{order_id}:refund")
    retry = store.refund(order_id, f"{order_id}:refund")

    assert first.amount == retry.amount == Decimal("24.90")
    assert ledger(engine, order_id) == [
        ("charge", Decimal("24.90")),
        ("refund", Decimal("24.90")),
    ]


def test_a_second_refund_with_another_key_gives_nothing_more_back(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    order_id = new_order_id("refund-again")
    store.charge(order_id, Decimal("24.90"), f"{order_id}:charge")
    store.refund(order_id, f"{order_id}:refund-1")

    again = store.refund(order_id, f"{order_id}:refund-2")

    assert again.amount == Decimal("0.00")
    assert [kind for kind, _ in ledger(engine, order_id)] == ["charge", "refund"]


def test_a_charge_arriving_after_the_refund_is_refused(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    order_id = new_order_id("late-charge")
    store.charge(order_id, Decimal("12.00"), f"{order_id}:charge-1")
    store.refund(order_id, f"{order_id}:refund")

    with pytest.raises(AlreadyCompensated, match=order_id):
        store.charge(order_id, Decimal("12.00"), f"{order_id}:charge-2")

    assert ledger(engine, order_id) == [
        ("charge", Decimal("12.00")),
        ("refund", Decimal("12.00")),
    ]


def test_a_retried_charge_after_the_refund_returns_its_original_receipt_without_charging(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    order_id = new_order_id("replay")
    original = store.charge(order_id, Decimal("12.00"), f"{order_id}:charge")
    store.refund(order_id, f"{order_id}:refund")

    replay = store.charge(order_id, Decimal("12.00"), f"{order_id}:charge")

    assert replay.reference == original.reference
    assert len(ledger(engine, order_id)) == 2


def test_refund_with_nothing_charged_returns_zero_and_blocks_a_later_charge(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    order_id = new_order_id("refund-first")

    receipt = store.refund(order_id, f"{order_id}:refund")

    assert receipt.amount == Decimal("0.00")
    with pytest.raises(AlreadyCompensated):
        store.charge(order_id, Decimal("12.00"), f"{order_id}:charge")
    assert ledger(engine, order_id) == []


# -- money ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount",
    ["0.01", "0.10", "0.20", "0.30", "19.99", "1.1", "100", "123456789012.34"],
)
def test_charged_amounts_come_back_as_the_exact_decimal(
    store: Store, engine: Engine, new_order_id: NewId, amount: str
) -> None:
    order_id = new_order_id("money")
    store.charge(order_id, Decimal(amount), f"{order_id}:charge")

    [(_, stored)] = ledger(engine, order_id)

    assert isinstance(stored, Decimal)
    assert stored == Decimal(amount)
    assert stored.as_tuple().exponent == -2


def test_ten_and_twenty_cents_charged_refund_exactly_thirty_cents(
    store: Store, new_order_id: NewId
) -> None:
    # In float, 0.10 + 0.20 is 0.30000000000000004.
    order_id = new_order_id("cents")
    store.charge(order_id, Decimal("0.10"), f"{order_id}:charge-1")
    store.charge(order_id, Decimal("0.20"), f"{order_id}:charge-2")

    receipt = store.refund(order_id, f"{order_id}:refund")

    assert receipt.amount == Decimal("0.30")
    assert str(receipt.amount) == "0.30"


@pytest.mark.parametrize("amount", ["10.005", "0.001", "19.999"])
def test_a_sub_cent_amount_is_refused_and_nothing_is_recorded(
    store: Store, engine: Engine, new_order_id: NewId, amount: str
) -> None:
    order_id = new_order_id("sub-cent")

    with pytest.raises(StatementError, match="more than two decimal places") as caught:
        store.charge(order_id, Decimal(amount), f"{order_id}:charge")

    assert isinstance(caught.value.orig, ValueError)
    assert ledger(engine, order_id) == []
    # The failed charge left no tombstone behind: a correct charge still goes through.
    store.charge(order_id, Decimal("10.00"), f"{order_id}:charge")
    assert ledger(engine, order_id) == [("charge", Decimal("10.00"))]


def test_a_float_amount_is_refused(store: Store, engine: Engine, new_order_id: NewId) -> None:
    order_id = new_order_id("float")

    with pytest.raises(StatementError):
        store.charge(order_id, 0.1, f"{order_id}:charge")  # type: ignore[arg-type]

    assert ledger(engine, order_id) == []


def test_a_negative_amount_is_refused_by_the_ledger(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    order_id = new_order_id("negative")

    with pytest.raises(IntegrityError, match="payment_amount_not_negative"):
        store.charge(order_id, Decimal("-5.00"), f"{order_id}:charge")

    assert ledger(engine, order_id) == []


# -- inventory ------------------------------------------------------------------------------


def test_reserve_holds_every_line_and_takes_the_units_off_the_shelf(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    store.restock("TEE-BLACK-M", 5)
    store.restock("MUG-LOGO", 3)
    order_id = new_order_id("reserve")

    receipt = store.reserve(order_id, [priced("TEE-BLACK-M", 2), priced("MUG-LOGO", 3)])

    assert {(line.sku, line.quantity) for line in receipt.lines} == {
        ("TEE-BLACK-M", 2),
        ("MUG-LOGO", 3),
    }
    assert store.available()["TEE-BLACK-M"] == 3
    assert store.available()["MUG-LOGO"] == 0
    assert held_reservations(engine, order_id) == {"TEE-BLACK-M": 2, "MUG-LOGO": 3}


def test_reserve_holds_nothing_when_a_later_line_is_short(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    store.restock("TEE-BLACK-M", 5)
    store.restock("MUG-LOGO", 1)
    order_id = new_order_id("short")

    with pytest.raises(OutOfStock, match="MUG-LOGO"):
        store.reserve(order_id, [priced("TEE-BLACK-M", 2), priced("MUG-LOGO", 2)])

    assert store.available()["TEE-BLACK-M"] == 5
    assert store.available()["MUG-LOGO"] == 1
    assert held_reservations(engine, order_id) == {}
    # Nothing half-held blocks the order: once restocked, the same reservation succeeds.
    store.restock("MUG-LOGO", 1)
    store.reserve(order_id, [priced("TEE-BLACK-M", 2), priced("MUG-LOGO", 2)])
    assert held_reservations(engine, order_id) == {"TEE-BLACK-M": 2, "MUG-LOGO": 2}


def test_reserving_an_sku_with_no_units_on_the_shelf_is_out_of_stock(
    store: Store, new_order_id: NewId
) -> None:
    with pytest.raises(OutOfStock):
        store.reserve(new_order_id("ghost"), [priced("VINYL-LIMITED", 1)])


def test_reserving_twice_holds_the_units_once(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    store.restock("CAP-NAVY", 4)
    order_id = new_order_id("reserve-twice")
    lines = [priced("CAP-NAVY", 3)]

    store.reserve(order_id, lines)
    retry = store.reserve(order_id, lines)

    assert [(line.sku, line.quantity) for line in retry.lines] == [("CAP-NAVY", 3)]
    assert store.available()["CAP-NAVY"] == 1
    assert held_reservations(engine, order_id) == {"CAP-NAVY": 3}


def test_release_puts_the_held_units_back_on_the_shelf(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    store.restock("HOODIE-GREY-M", 4)
    store.restock("STICKER-PACK", 10)
    order_id = new_order_id("release")
    store.reserve(order_id, [priced("HOODIE-GREY-M", 1), priced("STICKER-PACK", 6)])

    receipt = store.release(order_id)

    assert receipt.units == 7
    assert store.available()["HOODIE-GREY-M"] == 4
    assert store.available()["STICKER-PACK"] == 10
    assert held_reservations(engine, order_id) == {}


def test_releasing_twice_puts_the_units_back_once(store: Store, new_order_id: NewId) -> None:
    store.restock("HOODIE-GREY-M", 4)
    order_id = new_order_id("release-twice")
    store.reserve(order_id, [priced("HOODIE-GREY-M", 3)])

    store.release(order_id)
    again = store.release(order_id)

    assert again.units == 0
    assert store.available()["HOODIE-GREY-M"] == 4


def test_a_reserve_arriving_after_the_release_is_refused(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    store.restock("BOTTLE-STEEL", 2)
    order_id = new_order_id("late-reserve")
    store.reserve(order_id, [priced("BOTTLE-STEEL", 2)])
    store.release(order_id)

    with pytest.raises(AlreadyCompensated, match=order_id):
        store.reserve(order_id, [priced("BOTTLE-STEEL", 2)])

    assert store.available()["BOTTLE-STEEL"] == 2
    assert held_reservations(engine, order_id) == {}


def test_release_with_nothing_held_returns_zero_and_blocks_a_later_reserve(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    store.restock("BOTTLE-STEEL", 2)
    order_id = new_order_id("release-first")

    receipt = store.release(order_id)

    assert receipt.units == 0
    with pytest.raises(AlreadyCompensated):
        store.reserve(order_id, [priced("BOTTLE-STEEL", 1)])
    assert store.available()["BOTTLE-STEEL"] == 2
    assert held_reservations(engine, order_id) == {}


def test_thirty_concurrent_orders_for_ten_units_sell_exactly_ten(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    store.restock("VINYL-LIMITED", 10)
    order_ids = [new_order_id(f"rush{i:02d}") for i in range(30)]
    start = threading.Barrier(len(order_ids))

    def buy(order_id: str) -> str:
        start.wait(timeout=30)
        try:
            store.reserve(order_id, [priced("VINYL-LIMITED", 1)])
        except OutOfStock:
            return "out of stock"
        return "reserved"

    with ThreadPoolExecutor(max_workers=len(order_ids)) as pool:
        outcomes = Counter(pool.map(buy, order_ids))

    assert outcomes == Counter({"reserved": 10, "out of stock": 20})
    assert store.available()["VINYL-LIMITED"] == 0
    held = [held_reservations(engine, order_id) for order_id in order_ids]
    assert sum(h.get("VINYL-LIMITED", 0) for h in held) == 10
    report = run_audit(engine, keep_states=True)
    assert report.oversold_units == 0
    assert not [v for v in report.violations if v.startswith("stock ")]


# -- shipments ------------------------------------------------------------------------------


def test_booking_twice_returns_the_same_tracking_number(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    order_id = new_order_id("book")

    first = store.book_shipment(order_id, ServiceLevel.EXPRESS, Decimal("10.60"))
    retry = store.book_shipment(order_id, ServiceLevel.EXPRESS, Decimal("10.60"))

    assert first.tracking_number.startswith("1Z")
    assert retry.tracking_number == first.tracking_number
    assert shipment_rows(engine, order_id) == [(first.tracking_number, "booked")]


def test_cancelling_twice_cancels_the_shipment_once(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    order_id = new_order_id("cancel")
    booked = store.book_shipment(order_id, ServiceLevel.STANDARD, Decimal("4.30"))

    first = store.cancel_shipment(order_id)
    again = store.cancel_shipment(order_id)

    assert first.cancelled == 1  # one shipment cancelled
    assert again.cancelled == 0
    assert shipment_rows(engine, order_id) == [(booked.tracking_number, "cancelled")]


def test_a_booking_arriving_after_the_cancel_is_refused(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    order_id = new_order_id("late-book")
    booked = store.book_shipment(order_id, ServiceLevel.STANDARD, Decimal("4.30"))
    store.cancel_shipment(order_id)

    with pytest.raises(AlreadyCompensated, match=order_id):
        store.book_shipment(order_id, ServiceLevel.STANDARD, Decimal("4.30"))

    assert shipment_rows(engine, order_id) == [(booked.tracking_number, "cancelled")]


def test_cancel_before_booking_cancels_nothing_and_blocks_a_later_booking(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    order_id = new_order_id("cancel-first")

    receipt = store.cancel_shipment(order_id)

    assert receipt.cancelled == 0
    with pytest.raises(AlreadyCompensated):
        store.book_shipment(order_id, ServiceLevel.STANDARD, Decimal("4.30"))
    assert shipment_rows(engine, order_id) == []


def test_other_orders_are_not_blocked_by_one_orders_compensation(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    store.restock("MUG-LOGO", 2)
    failed, other = new_order_id("failed"), new_order_id("other")
    store.refund(failed, f"{failed}:refund")
    store.release(failed)
    store.cancel_shipment(failed)

    store.charge(other, Decimal("12.00"), f"{other}:charge")
    store.reserve(other, [priced("MUG-LOGO", 1)])
    store.book_shipment(other, ServiceLevel.STANDARD, Decimal("4.30"))

    assert ledger(engine, other) == [("charge", Decimal("12.00"))]
    assert held_reservations(engine, other) == {"MUG-LOGO": 1}
    assert [status for _, status in shipment_rows(engine, other)] == ["booked"]
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(payments)) == 1


# -- warehouses -----------------------------------------------------------------------------


def test_each_warehouse_has_its_own_shelf(store: Store) -> None:
    east, west = WAREHOUSES[0], WAREHOUSES[1]

    assert store.restock("CAP-NAVY", 3, east) == 3
    assert store.restock("CAP-NAVY", 5, west) == 5

    assert store.availability()[east]["CAP-NAVY"] == 3
    assert store.availability()[west]["CAP-NAVY"] == 5
    assert store.available()["CAP-NAVY"] == 8


def test_restocking_an_unknown_warehouse_raises_key_error(store: Store) -> None:
    with pytest.raises(KeyError, match="WH-NOWHERE"):
        store.restock("CAP-NAVY", 1, "WH-NOWHERE")


def test_a_reservation_takes_units_only_from_its_own_warehouse(
    store: Store, new_order_id: NewId
) -> None:
    east, west = WAREHOUSES[0], WAREHOUSES[1]
    store.restock("MUG-LOGO", 5, east)
    store.restock("MUG-LOGO", 1, west)
    order_id = new_order_id("west")

    with pytest.raises(OutOfStock, match=f"MUG-LOGO in {west}"):
        store.reserve(order_id, [priced("MUG-LOGO", 2)], west)
    receipt = store.reserve(order_id, [priced("MUG-LOGO", 1)], west)

    assert receipt.warehouse == west
    assert store.availability()[east]["MUG-LOGO"] == 5
    assert store.availability()[west]["MUG-LOGO"] == 0


def test_an_order_split_over_two_warehouses_ships_twice_and_compensates_everywhere(
    store: Store, engine: Engine, new_order_id: NewId
) -> None:
    east, west = WAREHOUSES[0], WAREHOUSES[1]
    store.restock("MUG-LOGO", 2, east)
    store.restock("CAP-NAVY", 2, west)
    order_id = new_order_id("split")
    store.charge(order_id, Decimal("36.90"), f"{order_id}:charge")
    store.reserve(order_id, [priced("MUG-LOGO", 1)], east)
    store.reserve(order_id, [priced("CAP-NAVY", 1)], west)
    east_parcel = store.book_shipment(order_id, ServiceLevel.STANDARD, Decimal("4.30"), east)
    west_parcel = store.book_shipment(order_id, ServiceLevel.STANDARD, Decimal("4.30"), west)
    assert east_parcel.tracking_number != west_parcel.tracking_number
    assert run_audit(engine, keep_states=True).states == {order_id: "complete"}

    released = store.release(order_id)
    cancelled = store.cancel_shipment(order_id)
    store.refund(order_id, f"{order_id}:refund")

    assert released.units == 2
    assert cancelled.cancelled == 2
    assert store.availability()[east]["MUG-LOGO"] == 2
    assert store.availability()[west]["CAP-NAVY"] == 2
    report = run_audit(engine, keep_states=True)
    assert report.ok, report.violations
    assert report.states == {order_id: "clean"}
