"""Repository over the order-side tables. Every write is one transaction, idempotent.

Idempotency: charges and refunds carry a unique idempotency key; reservations are keyed by
(order, SKU); shipments by order. A compensation leaves a tombstone (a refund row, released
reservations, a cancelled shipment row) so a late retry of its step cannot act afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from orderflow.domain.errors import AlreadyCompensated, OutOfStock
from orderflow.domain.models import (
    CancelShipmentReceipt,
    PaymentReceipt,
    PricedLine,
    Product,
    RefundReceipt,
    ReleaseReceipt,
    ReservationReceipt,
    ReservedLine,
    ServiceLevel,
    ShipmentReceipt,
)
from orderflow.store.tables import (
    metadata,
    orders,
    payments,
    products,
    reservations,
    shipments,
    stock,
)

HELD, RELEASED = "held", "released"
BOOKED, CANCELLED = "booked", "cancelled"
CHARGE, REFUND = "charge", "refund"


class Store:
    """All reads and writes of orderflow's own state."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- set-up -----------------------------------------------------------------------------

    def create_schema(self) -> None:
        """Create missing tables (idempotent)."""
        metadata.create_all(self.engine)

    def seed_catalog(self, catalog: Iterable[Product]) -> None:
        """Insert catalog products (and an empty stock row) that are not there yet."""
        with self._tx() as conn:
            known = set(conn.scalars(select(products.c.sku)))
            for product in catalog:
                if product.sku in known:
                    continue
                conn.execute(products.insert().values(**product.model_dump()))
                conn.execute(stock.insert().values(sku=product.sku, initial=0, available=0))

    def restock(self, sku: str, units: int) -> None:
        """Put ``units`` more of ``sku`` on the shelf."""
        if units < 0:
            raise ValueError("units must not be negative")
        with self._tx() as conn:
            result = conn.execute(
                update(stock)
                .where(stock.c.sku == sku)
                .values(initial=stock.c.initial + units, available=stock.c.available + units)
            )
            if result.rowcount != 1:
                raise KeyError(f"unknown SKU {sku!r}")

    def catalog(self) -> dict[str, Product]:
        """Products by SKU."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(products)).mappings()
            return {row["sku"]: Product.model_validate(dict(row)) for row in rows}

    def available(self) -> dict[str, int]:
        """Units on the shelf (not held) per SKU."""
        with self.engine.connect() as conn:
            return {sku: n for sku, n in conn.execute(select(stock.c.sku, stock.c.available))}

    # -- payments ---------------------------------------------------------------------------

    def charge(self, order_id: str, amount: Decimal, idempotency_key: str) -> PaymentReceipt:
        """Record a charge once per idempotency key; refuse after the order was refunded."""
        with self._tx() as conn:
            flags = self._lock_order(conn, order_id)
            existing = (
                conn.execute(select(payments).where(payments.c.idempotency_key == idempotency_key))
                .mappings()
                .first()
            )
            if existing is not None:
                return PaymentReceipt(
                    order_id=order_id, reference=existing["reference"], amount=existing["amount"]
                )
            if flags.refunded:
                raise AlreadyCompensated(f"order {order_id} was already refunded; not charging")
            reference = f"ch_{uuid.uuid4().hex[:16]}"
            conn.execute(
                payments.insert().values(
                    order_id=order_id,
                    kind=CHARGE,
                    amount=amount,
                    idempotency_key=idempotency_key,
                    reference=reference,
                )
            )
            return PaymentReceipt(order_id=order_id, reference=reference, amount=amount)

    def refund(self, order_id: str, idempotency_key: str) -> RefundReceipt:
        """Refund whatever the order's charges net to, once; marks the order refunded.

        The mark is the tombstone that stops a charge arriving late (a timed-out attempt).
        """
        with self._tx() as conn:
            flags = self._lock_order(conn, order_id)
            existing = conn.execute(
                select(payments.c.amount).where(payments.c.idempotency_key == idempotency_key)
            ).first()
            if existing is not None:
                return RefundReceipt(order_id=order_id, amount=existing.amount)
            if not flags.refunded:
                conn.execute(
                    update(orders).where(orders.c.order_id == order_id).values(refunded=True)
                )
            amount = self._net_charged(conn, order_id)
            if amount <= 0:
                return RefundReceipt(order_id=order_id, amount=Decimal("0.00"))
            conn.execute(
                payments.insert().values(
                    order_id=order_id,
                    kind=REFUND,
                    amount=amount,
                    idempotency_key=idempotency_key,
                    reference=f"re_{uuid.uuid4().hex[:16]}",
                )
            )
            return RefundReceipt(order_id=order_id, amount=amount)

    # -- inventory --------------------------------------------------------------------------

    def reserve(self, order_id: str, lines: Sequence[PricedLine]) -> ReservationReceipt:
        """Hold every line or none: a conditional decrement per SKU in one transaction.

        Raises:
            OutOfStock: a line wants more than is available (nothing is held).
            AlreadyCompensated: the order's stock was already released.
        """
        with self._tx() as conn:
            flags = self._lock_order(conn, order_id)
            if flags.released:
                raise AlreadyCompensated(f"order {order_id}'s stock was already released")
            rows = conn.execute(
                select(reservations.c.sku, reservations.c.quantity).where(
                    reservations.c.order_id == order_id
                )
            ).all()
            if rows:
                return ReservationReceipt(
                    order_id=order_id,
                    lines=[ReservedLine(sku=r.sku, quantity=r.quantity) for r in rows],
                )
            for line in lines:
                taken = conn.execute(
                    update(stock)
                    .where(stock.c.sku == line.sku, stock.c.available >= line.quantity)
                    .values(available=stock.c.available - line.quantity)
                )
                if taken.rowcount != 1:
                    # Leaving the block by exception rolls back the lines already taken.
                    raise OutOfStock(f"not enough {line.sku} in stock for {line.quantity} unit(s)")
                conn.execute(
                    reservations.insert().values(
                        order_id=order_id, sku=line.sku, quantity=line.quantity, status=HELD
                    )
                )
            return ReservationReceipt(
                order_id=order_id,
                lines=[ReservedLine(sku=line.sku, quantity=line.quantity) for line in lines],
            )

    def release(self, order_id: str) -> ReleaseReceipt:
        """Put an order's held units back; idempotent; marks the order released."""
        with self._tx() as conn:
            self._lock_order(conn, order_id)
            held = conn.execute(
                select(reservations.c.sku, reservations.c.quantity).where(
                    reservations.c.order_id == order_id, reservations.c.status == HELD
                )
            ).all()
            for row in held:
                conn.execute(
                    update(stock)
                    .where(stock.c.sku == row.sku)
                    .values(available=stock.c.available + row.quantity)
                )
            conn.execute(
                update(reservations)
                .where(reservations.c.order_id == order_id)
                .values(status=RELEASED)
            )
            conn.execute(update(orders).where(orders.c.order_id == order_id).values(released=True))
            return ReleaseReceipt(order_id=order_id, units=sum(row.quantity for row in held))

    # -- shipments --------------------------------------------------------------------------

    def book_shipment(
        self, order_id: str, service_level: ServiceLevel, cost: Decimal
    ) -> ShipmentReceipt:
        """Book one shipment per order; a retry returns the same tracking number."""
        with self._tx() as conn:
            flags = self._lock_order(conn, order_id)
            if flags.shipment_cancelled:
                raise AlreadyCompensated(f"order {order_id}'s shipment was already cancelled")
            row = conn.execute(
                select(shipments.c.tracking_number).where(shipments.c.order_id == order_id)
            ).first()
            if row is not None:
                return ShipmentReceipt(order_id=order_id, tracking_number=row.tracking_number)
            tracking = f"1Z{uuid.uuid4().hex[:14].upper()}"
            conn.execute(
                shipments.insert().values(
                    order_id=order_id,
                    tracking_number=tracking,
                    service_level=service_level.value,
                    cost=cost,
                    status=BOOKED,
                )
            )
            return ShipmentReceipt(order_id=order_id, tracking_number=tracking)

    def cancel_shipment(self, order_id: str) -> CancelShipmentReceipt:
        """Cancel the order's shipment; idempotent; marks the order's shipment cancelled."""
        with self._tx() as conn:
            flags = self._lock_order(conn, order_id)
            if not flags.shipment_cancelled:
                conn.execute(
                    update(orders)
                    .where(orders.c.order_id == order_id)
                    .values(shipment_cancelled=True)
                )
            row = conn.execute(
                select(shipments.c.status).where(shipments.c.order_id == order_id)
            ).first()
            if row is None or row.status == CANCELLED:
                return CancelShipmentReceipt(order_id=order_id, cancelled=False)
            conn.execute(
                update(shipments).where(shipments.c.order_id == order_id).values(status=CANCELLED)
            )
            return CancelShipmentReceipt(order_id=order_id, cancelled=True)

    # -- helpers ----------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """A unit of work: commits when the block ends normally, rolls back otherwise."""
        with self.engine.begin() as conn:
            yield conn

    def _lock_order(self, conn: Connection, order_id: str) -> Row[Any]:
        """Create the order's lock row if needed, lock it until the transaction ends, return it."""
        dialect = conn.dialect.name
        if dialect == "postgresql":
            conn.execute(pg_insert(orders).values(order_id=order_id).on_conflict_do_nothing())
        elif dialect == "sqlite":
            conn.execute(sqlite_insert(orders).values(order_id=order_id).on_conflict_do_nothing())
        else:  # pragma: no cover - other databases are not supported yet
            raise NotImplementedError(dialect)
        return conn.execute(
            select(orders).where(orders.c.order_id == order_id).with_for_update()
        ).one()

    @staticmethod
    def _net_charged(conn: Connection, order_id: str) -> Decimal:
        def total(kind: str) -> Decimal:
            value = conn.scalar(
                select(func.sum(payments.c.amount)).where(
                    payments.c.order_id == order_id, payments.c.kind == kind
                )
            )
            return value if value is not None else Decimal("0.00")

        return total(CHARGE) - total(REFUND)
