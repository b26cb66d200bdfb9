"""Shipments: one booked parcel per (order, warehouse), cancelled by the saga."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import bindparam, select, update

from orderflow.domain.catalog import DEFAULT_WAREHOUSE
from orderflow.domain.errors import AlreadyCompensated
from orderflow.domain.models import (
    CancelShipmentReceipt,
    ServiceLevel,
    ShipmentReceipt,
)
from orderflow.domain.ports import ShipmentBook
from orderflow.store.records import BOOKED, CANCELLED, Records
from orderflow.store.tables import orders, shipments

#: The parcel an order booked from one warehouse, and booking one.
_BOOKED = select(shipments.c.tracking_number).where(
    shipments.c.order_id == bindparam("order_id"), shipments.c.warehouse == bindparam("warehouse")
)
_BOOK = shipments.insert()


class SqlShipmentBook(Records, ShipmentBook):
    """Shipments in the ``shipments`` table; the cancellation's tombstone on the order."""

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
            row = conn.execute(_BOOKED, {"order_id": order_id, "warehouse": warehouse}).first()
            if row is not None:
                return ShipmentReceipt(
                    order_id=order_id, warehouse=warehouse, tracking_number=row.tracking_number
                )
            tracking = f"1Z{uuid.uuid4().hex[:14].upper()}"
            conn.execute(
                _BOOK,
                {
                    "order_id": order_id,
                    "warehouse": warehouse,
                    "tracking_number": tracking,
                    "service_level": service_level.value,
                    "cost": cost,
                    "status": BOOKED,
                },
            )
            self._note(conn, order_id, "SHIPPED", f"shipment:{warehouse}", locked=True)
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
            self._note(conn, order_id, "COMPENSATING", "cancel_shipment", locked=True)
            return CancelShipmentReceipt(order_id=order_id, cancelled=result.rowcount)
