"""Stock: the catalog, what is on the shelf per warehouse, and what is held for orders.

No overselling: a reservation is one transaction of conditional decrements
(``available = available - n WHERE available >= n``), one per line; a short line rolls the
whole reservation back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, bindparam, case, func, select, update

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
from orderflow.store.records import BOOKED, HELD, RELEASED, Records
from orderflow.store.tables import orders, products, reservations, restocks, shipments, stock

#: Every shelf's units on hand.
_SHELVES = select(stock.c.warehouse, stock.c.sku, stock.c.available)
#: What an order holds in one warehouse.
_RESERVED = select(reservations.c.sku, reservations.c.quantity).where(
    reservations.c.order_id == bindparam("order_id"),
    reservations.c.warehouse == bindparam("warehouse"),
)
#: Take ``units`` off a shelf if it has them (no overselling: 0 rows when it has not).
_TAKE = (
    update(stock)
    .where(
        stock.c.warehouse == bindparam("take_warehouse"),
        stock.c.sku == bindparam("take_sku"),
        stock.c.available >= bindparam("take_units"),
    )
    .values(available=stock.c.available - bindparam("take_units"))
)
_HOLD = reservations.insert()


class SqlStockroom(Records, Stockroom):
    """Stock in the ``stock`` and ``reservations`` tables."""

    #: The catalog as last read (see ``catalog``).
    _catalog: dict[str, Product] | None = None

    def seed_catalog(
        self, catalog: Iterable[Product], warehouses: Sequence[str] = WAREHOUSES
    ) -> None:
        """Insert catalog products, and an empty stock row per warehouse, that are missing.

        Safe when several workers start at once: existing rows are skipped, not re-inserted.
        """
        self._catalog = None
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

    def restock(
        self,
        sku: str,
        units: int,
        warehouse: str = DEFAULT_WAREHOUSE,
        idempotency_key: str | None = None,
    ) -> int:
        """Put ``units`` more of ``sku`` on the shelf of ``warehouse``; returns units available.

        With ``idempotency_key`` the restock happens once: a retry with the same key adds
        nothing (and a different restock under a used key is refused).

        Raises:
            KeyError: unknown SKU or warehouse.
            ValueError: negative units, or the key was used for a different restock.
        """
        if units < 0:
            raise ValueError("units must not be negative")
        with self._tx() as conn:
            if idempotency_key is not None:
                done = conn.execute(
                    select(restocks.c.warehouse, restocks.c.sku, restocks.c.units).where(
                        restocks.c.idempotency_key == idempotency_key
                    )
                ).first()
                if done is not None:
                    if tuple(done) != (warehouse, sku, units):
                        raise ValueError(
                            f"idempotency key {idempotency_key[:64]!r} was used for another "
                            f"restock ({done.units} x {done.sku} in {done.warehouse})"
                        )
                    return self._available(conn, sku, warehouse)
            result = conn.execute(
                update(stock)
                .where(stock.c.sku == sku, stock.c.warehouse == warehouse)
                .values(initial=stock.c.initial + units, available=stock.c.available + units)
            )
            if result.rowcount != 1:
                raise KeyError(f"unknown SKU {sku!r} or warehouse {warehouse!r}")
            if idempotency_key is not None:
                conn.execute(
                    restocks.insert().values(
                        idempotency_key=idempotency_key, warehouse=warehouse, sku=sku, units=units
                    )
                )
            return self._available(conn, sku, warehouse)

    def restocked(self, idempotency_key: str) -> bool:
        """True when a restock with this key was done already."""
        with self.engine.connect() as conn:
            return (
                conn.scalar(
                    select(restocks.c.units).where(restocks.c.idempotency_key == idempotency_key)
                )
                is not None
            )

    def set_stock(self, sku: str, available: int, warehouse: str = DEFAULT_WAREHOUSE) -> int:
        """Set the units on the shelf (after a count); held units stay held. Idempotent.

        Stock stays conserved: the units put on (or taken off) the shelf move ``initial``
        by the same amount.

        Raises:
            KeyError: unknown SKU or warehouse.
            ValueError: a negative level.
        """
        if available < 0:
            raise ValueError("the level must not be negative")
        with self._tx() as conn:
            result = conn.execute(
                update(stock)
                .where(stock.c.sku == sku, stock.c.warehouse == warehouse)
                .values(
                    initial=stock.c.initial + (available - stock.c.available), available=available
                )
            )
            if result.rowcount != 1:
                raise KeyError(f"unknown SKU {sku!r} or warehouse {warehouse!r}")
            return self._available(conn, sku, warehouse)

    def stock_levels(self) -> list[tuple[str, str, int, int, int]]:
        """(warehouse, SKU, available, held, shipped) for every shelf.

        ``held``: units reserved for orders whose parcel from that warehouse is not booked
        yet; ``shipped``: units of booked parcels (they stay reserved: initial = available +
        held + shipped).
        """
        with self.engine.connect() as conn:
            booked = (
                select(shipments.c.order_id, shipments.c.warehouse)
                .where(shipments.c.status == BOOKED)
                .subquery()
            )
            rows = conn.execute(
                select(
                    reservations.c.warehouse,
                    reservations.c.sku,
                    func.sum(reservations.c.quantity),
                    func.sum(
                        case((booked.c.order_id.is_not(None), reservations.c.quantity), else_=0)
                    ),
                )
                .select_from(
                    reservations.outerjoin(
                        booked,
                        (booked.c.order_id == reservations.c.order_id)
                        & (booked.c.warehouse == reservations.c.warehouse),
                    )
                )
                .where(reservations.c.status == HELD)
                .group_by(reservations.c.warehouse, reservations.c.sku)
            ).all()
            reserved = {
                (w, sku): (int(total), int(shipped or 0)) for w, sku, total, shipped in rows
            }
            levels = []
            for warehouse, sku, available in conn.execute(
                select(stock.c.warehouse, stock.c.sku, stock.c.available).order_by(
                    stock.c.warehouse, stock.c.sku
                )
            ):
                total, shipped = reserved.get((warehouse, sku), (0, 0))
                levels.append((warehouse, sku, int(available), total - shipped, shipped))
            return levels

    def held(self) -> dict[tuple[str, str], int]:
        """Units held for orders per (warehouse, SKU)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    reservations.c.warehouse, reservations.c.sku, func.sum(reservations.c.quantity)
                )
                .where(reservations.c.status == HELD)
                .group_by(reservations.c.warehouse, reservations.c.sku)
            )
            return {(warehouse, sku): int(units) for warehouse, sku, units in rows}

    @staticmethod
    def _available(conn: Connection, sku: str, warehouse: str) -> int:
        return int(
            conn.scalar(
                select(stock.c.available).where(stock.c.sku == sku, stock.c.warehouse == warehouse)
            )
            or 0
        )

    def catalog(self, *, wanted: Iterable[str] = ()) -> dict[str, Product]:
        """Products by SKU.

        Read once and kept: products are only ever added (``seed_catalog``), never changed.
        ``wanted``: SKUs the caller needs; if the kept copy lacks one (another process
        seeded it since), the catalog is read again.
        """
        kept = self._catalog
        if kept is not None and all(sku in kept for sku in wanted):
            return kept
        with self.engine.connect() as conn:
            rows = conn.execute(select(products)).mappings()
            kept = {row["sku"]: Product.model_validate(dict(row)) for row in rows}
        self._catalog = kept
        return kept

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
            for warehouse, sku, units in conn.execute(_SHELVES):
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
            where = {"order_id": order_id, "warehouse": warehouse}
            rows = conn.execute(_RESERVED, where).all()
            if rows:
                return ReservationReceipt(
                    order_id=order_id,
                    warehouse=warehouse,
                    lines=[ReservedLine(sku=r.sku, quantity=r.quantity) for r in rows],
                )
            for line in lines:
                taken = conn.execute(
                    _TAKE,
                    {
                        "take_warehouse": warehouse,
                        "take_sku": line.sku,
                        "take_units": line.quantity,
                    },
                )
                if taken.rowcount != 1:
                    # Leaving the block by exception rolls back the lines already taken.
                    raise OutOfStock(
                        f"not enough {line.sku} in {warehouse} for {line.quantity} unit(s)"
                    )
                conn.execute(
                    _HOLD, {**where, "sku": line.sku, "quantity": line.quantity, "status": HELD}
                )
            self._note(conn, order_id, "RESERVED", f"inventory:{warehouse}", locked=True)
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
            self._note(conn, order_id, "COMPENSATING", "release_inventory", locked=True)
            return ReleaseReceipt(order_id=order_id, units=sum(row.quantity for row in held))
