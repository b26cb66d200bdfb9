"""Ports: what the simulated outside world needs of the shop's records.

Small abstract classes (cosmicpython's habit): the adapters in ``orderflow.adapters`` depend
on these, never on the SQL store that implements them (``orderflow.store.Store``). Every
method is idempotent by its key, so a retried call after a lost answer is safe.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from decimal import Decimal

from orderflow.domain.models import (
    CancelShipmentReceipt,
    PaymentReceipt,
    PricedLine,
    RefundReceipt,
    ReleaseReceipt,
    ReservationReceipt,
    ServiceLevel,
    ShipmentReceipt,
)


class Ledger(abc.ABC):
    """Money: charges and refunds, once per idempotency key."""

    @abc.abstractmethod
    def charge(
        self, order_id: str, amount: Decimal, idempotency_key: str, *, reference_prefix: str = "ch"
    ) -> PaymentReceipt:
        """Record a charge once per key (its reference starts with ``reference_prefix``);
        refuse after the order was refunded."""

    @abc.abstractmethod
    def charge_references(self, order_id: str) -> list[str]:
        """The references of the order's charges."""

    @abc.abstractmethod
    def refund(self, order_id: str, idempotency_key: str) -> RefundReceipt:
        """Refund what the order's charges net to, once; leaves the refund's tombstone."""


class Stockroom(abc.ABC):
    """Stock per warehouse: what is on the shelf, and what is held for orders."""

    @abc.abstractmethod
    def availability(self) -> dict[str, dict[str, int]]:
        """Units on the shelf (not held) per warehouse, then per SKU."""

    @abc.abstractmethod
    def reserve(
        self, order_id: str, lines: Sequence[PricedLine], warehouse: str
    ) -> ReservationReceipt:
        """Hold every line in ``warehouse`` or none (``OutOfStock``); idempotent per
        (order, warehouse)."""

    @abc.abstractmethod
    def release(self, order_id: str) -> ReleaseReceipt:
        """Put the order's held units back; leaves the release's tombstone."""


class ShipmentBook(abc.ABC):
    """Booked parcels, one per (order, warehouse)."""

    @abc.abstractmethod
    def book_shipment(
        self, order_id: str, service_level: ServiceLevel, cost: Decimal, warehouse: str
    ) -> ShipmentReceipt:
        """Book the parcel once; a retry answers with the same tracking number."""

    @abc.abstractmethod
    def cancel_shipment(self, order_id: str) -> CancelShipmentReceipt:
        """Cancel the order's booked parcels; leaves the cancellation's tombstone."""
