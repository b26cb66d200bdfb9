"""The console's read model: each order's row follows it, and no late write turns it back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select

from orderflow.domain.models import ServiceLevel
from orderflow.store import Store
from orderflow.store.tables import orders, reconcile_runs

from .helpers import priced

NewId = Callable[[str], str]


def row(store: Store, order_id: str) -> dict[str, object]:
    with store.engine.connect() as conn:
        found = conn.execute(
            select(
                orders.c.state,
                orders.c.step,
                orders.c.customer_id,
                orders.c.total,
                orders.c.error_type,
                orders.c.due_at,
            ).where(orders.c.order_id == order_id)
        ).one()
    return dict(found._mapping)


def test_an_order_s_row_follows_it_from_the_door_to_its_outcome(
    store: Store, new_order_id: NewId
) -> None:
    order_id = new_order_id("o")
    store.restock("MUG-LOGO", 5)
    seen = []

    store.note_received(order_id, "cust-7")
    seen.append(row(store, order_id)["state"])
    store.note_validated(order_id, "cust-7", Decimal("17.86"))
    seen.append(row(store, order_id)["state"])
    store.charge(order_id, Decimal("17.86"), f"{order_id}:payment")
    seen.append(row(store, order_id)["state"])
    store.reserve(order_id, [priced("MUG-LOGO", 1)], "WH-EAST")
    seen.append(row(store, order_id)["state"])
    store.note_quoted(order_id, "WH-EAST")
    seen.append(row(store, order_id)["state"])
    store.book_shipment(order_id, ServiceLevel.STANDARD, Decimal("4.30"), "WH-EAST")
    seen.append(row(store, order_id)["state"])
    store.record_outcome(order_id, "COMPLETED", Decimal("17.86"), "")

    assert seen == ["RECEIVED", "VALIDATED", "PAID", "RESERVED", "SHIPPING_QUOTED", "SHIPPED"]
    assert row(store, order_id) == {
        "state": "COMPLETED",
        "step": "",
        "customer_id": "cust-7",
        "total": Decimal("17.86"),
        "error_type": None,
        "due_at": None,
    }


def test_a_late_step_or_a_repair_never_turns_an_order_back(
    store: Store, new_order_id: NewId
) -> None:
    order_id = new_order_id("o")
    store.note_validated(order_id, "cust-1", Decimal("10.00"))
    store.refund(order_id, f"{order_id}:refund")  # the saga unwinds
    store.note_quoted(order_id, "WH-EAST")  # a quote that lands afterwards
    assert row(store, order_id)["state"] == "COMPENSATING"

    store.record_outcome(order_id, "FAILED", Decimal("10.00"), "x", "OutOfStock")
    store.release(order_id)  # a reconciliation's repair, long after
    store.note_received(order_id, "someone-else")  # a repeated submission

    found = row(store, order_id)
    assert found["state"] == "FAILED" and found["error_type"] == "OutOfStock"
    assert found["customer_id"] == "cust-1"


def test_an_order_waiting_for_review_shows_until_when(store: Store, new_order_id: NewId) -> None:
    order_id = new_order_id("o")
    until = datetime.now(timezone.utc) + timedelta(hours=24)

    store.note_validated(order_id, "cust-1", Decimal("900.00"), review_until=until)

    found = row(store, order_id)
    assert found["state"] == "AWAITING_REVIEW" and found["step"] == "review"
    due = found["due_at"]
    assert isinstance(due, datetime)
    assert abs((due.replace(tzinfo=due.tzinfo or timezone.utc) - until).total_seconds()) < 1


def test_a_compensation_that_gave_up_parks_the_order_until_its_outcome(
    store: Store, new_order_id: NewId
) -> None:
    order_id = new_order_id("o")
    store.note_validated(order_id, "cust-1", Decimal("10.00"))

    store.note_needs_attention(order_id, "refund_payment")
    parked = row(store, order_id)
    store.record_outcome(order_id, "FAILED", Decimal("10.00"), "settled by hand")

    assert parked["state"] == "NEEDS_ATTENTION" and parked["step"] == "refund_payment"
    assert row(store, order_id)["state"] == "FAILED"


def test_each_reconciliation_pass_is_kept(store: Store) -> None:
    store.record_reconcile(12, ["order a: recorded FAILED but database says held"], ["order a"])

    with store.engine.connect() as conn:
        last = conn.execute(select(reconcile_runs)).one()
    assert (last.orders_checked, last.drift, last.repaired) == (12, 1, 1)
    assert "recorded FAILED" in last.lines and "repaired: order a" in last.lines
