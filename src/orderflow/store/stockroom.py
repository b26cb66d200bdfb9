"""Stock: the catalog, what is on the shelf per warehouse, and what is held for orders.

No overselling: a reservation is one transaction of conditional decrements
(``available = available - n WHERE available >= n``), one per line; a short line rolls the
whole reservation back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select, update

from orderflow.domain.catalog import DEFAULT_WAREHOUSE, WAREHOUSES
from orderflow.domain.errors import AlreadyCompensated, OutOfStock
from orderflow.domain.models import (
    PricedLine,
    Product,
    ReleaseReceipt,
    ReservationReceipt,
    ReservedLine,
)
from orderflow.domain.ports import Stockroom
from orderflow.store.records import HELD, RELEASED, Records
from orderflow.store.tables import orders, products, reservations, stock


class SqlStockroom(Records, Stockroom):
    """Stock in the ``stock`` and ``reservations`` tables."""

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
