"""Orders and database checks shared by the workflow tests."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from orderflow.domain.models import Address, LineItem, Order
from orderflow.store import Store
from orderflow.store.tables import payments, reservations, shipments


def an_order(order_id: str, token: str = "tok_visa", **changes: object) -> Order:
    """A valid two-line order (2 x TEE-BLACK-M, 1 x MUG-LOGO) unless ``changes`` say otherwise."""
    order = Order(
        order_id=order_id,
        customer_id="cust-001",
        items=[LineItem(sku="TEE-BLACK-M", quantity=2), LineItem(sku="MUG-LOGO", quantity=1)],
        address=Address(
            name="Ada Lovelace",
            line1="12 Analytical Way",
            city="London",
            postal_code="N1 9GU",
            country="GB",
        ),
        payment_token=token,
    )
    return order.model_copy(update=changes)


def ledger(store: Store, order_id: str) -> list[tuple[str, Decimal]]:
    """(kind, amount) rows of the order's payments, oldest first."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(payments.c.kind, payments.c.amount)
            .where(payments.c.order_id == order_id)
            .order_by(payments.c.id)
        )
        return [(kind, amount) for kind, amount in rows]


def units_held(store: Store, order_id: str) -> int:
    """Units currently held for the order."""
    with store.engine.connect() as conn:
        value = conn.scalar(
            select(func.coalesce(func.sum(reservations.c.quantity), 0)).where(
                reservations.c.order_id == order_id, reservations.c.status == "held"
            )
        )
        return int(value or 0)


def shipment_status(store: Store, order_id: str) -> str | None:
    """'booked', 'cancelled' or None."""
    with store.engine.connect() as conn:
        return conn.scalar(select(shipments.c.status).where(shipments.c.order_id == order_id))
