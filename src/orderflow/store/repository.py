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

from sqlalchemy import Connection, Engine, Row, Table, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from orderflow.domain.catalog import DEFAULT_WAREHOUSE, WAREHOUSES
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
from orderflow.domain.ports import Ledger, ShipmentBook, Stockroom
from orderflow.store.tables import (
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


def idempotency_key(order_id: str, step: str) -> str:
    """The key that makes a step's side effect happen at most once per order."""
    return f"{order_id}:{step}"


class Store(Ledger, Stockroom, ShipmentBook):
    """All reads and writes of orderflow's own state (the SQL implementation of the ports)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- set-up -----------------------------------------------------------------------------

    def create_schema(self) -> None:
        """Bring the schema up to date by the migrations (idempotent): ``schema.upgrade``."""
        from orderflow.store import schema  # imported late: Alembic only when it is needed

        schema.upgrade(self.engine)

    def seed_catalog(
        self, catalog: Iterable[Product], warehouses: Sequence[str] = WAREHOUSES
    ) -> None:
        """Insert catalog products, and an empty stock row per warehouse, that are missing.

        Safe when several workers start at once: existing rows are skipped, not re-inserted.
        """
        with self._tx() as conn:
            for product in catalog:
                conn.execute(self._insert_missing(conn, products, product.model_dump()))
                for warehouse in warehouses:
                    conn.execute(
                        self._insert_missing(
                            conn,
                            stock,
                            {
                                "warehouse": warehouse,
                                "sku": product.sku,
                                "initial": 0,
                                "available": 0,
                            },
                        )
                    )

    @staticmethod
    def _insert_missing(conn: Connection, table: Table, values: dict[str, Any]) -> Any:
        """INSERT ... ON CONFLICT DO NOTHING for the connection's dialect."""
        dialect = conn.dialect.name
        if dialect == "postgresql":
            return pg_insert(table).values(**values).on_conflict_do_nothing()
        if dialect == "sqlite":
            return sqlite_insert(table).values(**values).on_conflict_do_nothing()
        raise NotImplementedError(dialect)  # pragma: no cover

    def restock(self, sku: str, units: int, warehouse: str = DEFAULT_WAREHOUSE) -> int:
        """Put ``units`` more of ``sku`` on the shelf of ``warehouse``; returns units available."""
        if units < 0:
            raise ValueError("units must not be negative")
        with self._tx() as conn:
            result = conn.execute(
                update(stock)
                .where(stock.c.sku == sku, stock.c.warehouse == warehouse)
                .values(initial=stock.c.initial + units, available=stock.c.available + units)
            )
            if result.rowcount != 1:
                raise KeyError(f"unknown SKU {sku!r} or warehouse {warehouse!r}")
            return int(
                conn.scalar(
                    select(stock.c.available).where(
                        stock.c.sku == sku, stock.c.warehouse == warehouse
                    )
                )
                or 0
            )

    def catalog(self) -> dict[str, Product]:
        """Products by SKU."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(products)).mappings()
            return {row["sku"]: Product.model_validate(dict(row)) for row in rows}

    def available(self) -> dict[str, int]:
        """Units on the shelf (not held) per SKU, over all warehouses."""
        totals: dict[str, int] = {}
        for shelf in self.availability().values():
            for sku, units in shelf.items():
                totals[sku] = totals.get(sku, 0) + units
        return totals

    def availability(self) -> dict[str, dict[str, int]]:
        """Units on the shelf (not held) per warehouse, then per SKU."""
        result: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for warehouse, sku, units in conn.execute(
                select(stock.c.warehouse, stock.c.sku, stock.c.available)
            ):
                result.setdefault(warehouse, {})[sku] = units
        return result

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
                select(payments.c.amount).where(
                    payments.c.idempotency_key == idempotency_key,
                    payments.c.order_id == order_id,
                    payments.c.kind == REFUND,
                )
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

    def reserve(
        self, order_id: str, lines: Sequence[PricedLine], warehouse: str = DEFAULT_WAREHOUSE
    ) -> ReservationReceipt:
        """Hold every line in ``warehouse`` or none: a conditional decrement per SKU, one
        transaction. Idempotent per (order, warehouse).

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
                    reservations.c.order_id == order_id, reservations.c.warehouse == warehouse
                )
            ).all()
            if rows:
                return ReservationReceipt(
                    order_id=order_id,
                    warehouse=warehouse,
                    lines=[ReservedLine(sku=r.sku, quantity=r.quantity) for r in rows],
                )
            for line in lines:
                taken = conn.execute(
                    update(stock)
                    .where(
                        stock.c.warehouse == warehouse,
                        stock.c.sku == line.sku,
                        stock.c.available >= line.quantity,
                    )
                    .values(available=stock.c.available - line.quantity)
                )
                if taken.rowcount != 1:
                    # Leaving the block by exception rolls back the lines already taken.
                    raise OutOfStock(
                        f"not enough {line.sku} in {warehouse} for {line.quantity} unit(s)"
                    )
                conn.execute(
                    reservations.insert().values(
                        order_id=order_id,
                        warehouse=warehouse,
                        sku=line.sku,
                        quantity=line.quantity,
                        status=HELD,
                    )
                )
            return ReservationReceipt(
                order_id=order_id,
                warehouse=warehouse,
                lines=[ReservedLine(sku=line.sku, quantity=line.quantity) for line in lines],
            )

    def release(self, order_id: str) -> ReleaseReceipt:
        """Put an order's held units back; idempotent; marks the order released."""
        with self._tx() as conn:
            self._lock_order(conn, order_id)
            held = conn.execute(
                select(reservations.c.warehouse, reservations.c.sku, reservations.c.quantity).where(
                    reservations.c.order_id == order_id, reservations.c.status == HELD
                )
            ).all()
            for row in held:
                conn.execute(
                    update(stock)
                    .where(stock.c.warehouse == row.warehouse, stock.c.sku == row.sku)
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
        self,
        order_id: str,
        service_level: ServiceLevel,
        cost: Decimal,
        warehouse: str = DEFAULT_WAREHOUSE,
    ) -> ShipmentReceipt:
        """Book the order's shipment from ``warehouse``; a retry returns the same tracking."""
        with self._tx() as conn:
            flags = self._lock_order(conn, order_id)
            if flags.shipment_cancelled:
                raise AlreadyCompensated(f"order {order_id}'s shipment was already cancelled")
            row = conn.execute(
                select(shipments.c.tracking_number).where(
                    shipments.c.order_id == order_id, shipments.c.warehouse == warehouse
                )
            ).first()
            if row is not None:
                return ShipmentReceipt(
                    order_id=order_id, warehouse=warehouse, tracking_number=row.tracking_number
                )
            tracking = f"1Z{uuid.uuid4().hex[:14].upper()}"
            conn.execute(
                shipments.insert().values(
                    order_id=order_id,
                    warehouse=warehouse,
                    tracking_number=tracking,
                    service_level=service_level.value,
                    cost=cost,
                    status=BOOKED,
                )
            )
            return ShipmentReceipt(order_id=order_id, warehouse=warehouse, tracking_number=tracking)

    def cancel_shipment(self, order_id: str) -> CancelShipmentReceipt:
        """Cancel every booked shipment of the order; idempotent; marks the order cancelled
        for shipping so a late booking refuses."""
        with self._tx() as conn:
            flags = self._lock_order(conn, order_id)
            if not flags.shipment_cancelled:
                conn.execute(
                    update(orders)
                    .where(orders.c.order_id == order_id)
                    .values(shipment_cancelled=True)
                )
            result = conn.execute(
                update(shipments)
                .where(shipments.c.order_id == order_id, shipments.c.status == BOOKED)
                .values(status=CANCELLED)
            )
            return CancelShipmentReceipt(order_id=order_id, cancelled=result.rowcount)

    # -- outcomes ---------------------------------------------------------------------------

    def record_outcome(
        self, order_id: str, status: str, total: Decimal | None, reason: str
    ) -> None:
        """Record how the order ended (idempotent: the last word wins, same values)."""
        with self._tx() as conn:
            self._lock_order(conn, order_id)
            conn.execute(
                update(orders)
                .where(orders.c.order_id == order_id)
                .values(
                    status=status,
                    total=total,
                    reason=reason[:500],
                    finished_at=func.coalesce(orders.c.finished_at, func.now()),
                )
            )

    def outcomes(self) -> dict[str, str]:
        """Recorded final status per order (orders still running are absent)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(orders.c.order_id, orders.c.status).where(orders.c.status.is_not(None))
            )
            return {order_id: status for order_id, status in rows}

    # -- helpers ----------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """A unit of work: commits when the block ends normally, rolls back otherwise."""
        with self.engine.begin() as conn:
            yield conn

    def _lock_order(self, conn: Connection, order_id: str) -> Row[Any]:
        """Create the order's lock row if needed, lock it until the transaction ends, return it."""
        conn.execute(self._insert_missing(conn, orders, {"order_id": order_id}))
        return conn.execute(
            select(orders.c.refunded, orders.c.released, orders.c.shipment_cancelled)
            .where(orders.c.order_id == order_id)
            .with_for_update()
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
