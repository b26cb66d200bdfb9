"""Small helpers shared by the store and audit tests."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, select

from orderflow.domain.catalog import CATALOG
from orderflow.domain.models import PricedLine
from orderflow.store.tables import payments, reservations, shipments

PRODUCTS = {product.sku: product for product in CATALOG}


def priced(sku: str, quantity: int) -> PricedLine:
    """A validated line for ``sku`` at its catalog price."""
    product = PRODUCTS[sku]
    return PricedLine(
        sku=sku,
        quantity=quantity,
        unit_price=product.unit_price,
        weight_grams=product.weight_grams,
    )


def ledger(engine: Engine, order_id: str) -> list[tuple[str, Decimal]]:
    """The order's payment rows as (kind, amount), oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(payments.c.kind, payments.c.amount)
            .where(payments.c.order_id == order_id)
            .order_by(payments.c.id)
        ).all()
    return [(row.kind, row.amount) for row in rows]


def held_reservations(engine: Engine, order_id: str) -> dict[str, int]:
    """Units per SKU the order holds right now."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(reservations.c.sku, reservations.c.quantity).where(
                reservations.c.order_id == order_id, reservations.c.status == "held"
            )
        ).all()
    return {row.sku: row.quantity for row in rows}


def shipment_rows(engine: Engine, order_id: str) -> list[tuple[str | None, str]]:
    """The order's shipment rows as (tracking number, status)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(shipments.c.tracking_number, shipments.c.status).where(
                shipments.c.order_id == order_id
            )
        ).all()
    return [(row.tracking_number, row.status) for row in rows]
