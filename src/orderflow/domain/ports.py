"""Ports: what the simulated outside world needs of the shop's records.

Small abstract classes (cosmicpython's habit): the adapters in ``orderflow.adapters`` depend
on these, never on the SQL store that implements them (``orderflow.store.Store``). Every
method is idempotent by its key, so a retried call after a lost answer is safe.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from orderflow.domain.models import (
    AuthorizationReceipt,
    CancelShipmentReceipt,
    CaptureReceipt,
    PaymentReceipt,
    PricedLine,
    RefundReceipt,
    ReleaseReceipt,
    ReservationReceipt,
    ServiceLevel,
    ShipmentReceipt,
    VoidReceipt,
)


class Ledger(abc.ABC):
    """Money: holds, captures, voids, refunds (and old-style charges), once per key."""

    @abc.abstractmethod
    def charge(
        self, order_id: str, amount: Decimal, idempotency_key: str, *, reference_prefix: str = "ch"
    ) -> PaymentReceipt:
        """Record a charge once per key (its reference starts with ``reference_prefix``);
        refuse after the order was refunded."""

    @abc.abstractmethod
    def charge_references(self, order_id: str) -> list[str]:
        """The references of the order's charges and holds."""

    @abc.abstractmethod
    def authorize(
        self,
        order_id: str,
        amount: Decimal,
        idempotency_key: str,
        *,
        expires_at: datetime,
        reference_prefix: str = "au",
    ) -> AuthorizationReceipt:
        """Hold ``amount`` until ``expires_at``, once per key; refused after the order's
        payment was released."""

    @abc.abstractmethod
    def capture(
        self,
        order_id: str,
        authorization: str,
        amount: Decimal,
        idempotency_key: str,
        *,
        now: datetime | None = None,
    ) -> CaptureReceipt:
        """Take at most what the hold has left, never after its void or lapse; once per key."""

    @abc.abstractmethod
    def void(
        self, order_id: str, idempotency_key: str, *, now: datetime | None = None
    ) -> VoidReceipt:
        """Release every open hold of the order, once per key; leaves the tombstone."""

    @abc.abstractmethod
    def void_hold(self, order_id: str, authorization: str, idempotency_key: str) -> VoidReceipt:
        """Release one hold (replaced by a new one), once per key."""

    @abc.abstractmethod
    def refund(self, order_id: str, idempotency_key: str) -> RefundReceipt:
        """Refund all the order kept, once; leaves the refund's tombstone."""

    @abc.abstractmethod
    def refund_amount(
        self, order_id: str, amount: Decimal, idempotency_key: str, *, note: str = ""
    ) -> RefundReceipt:
        """Refund part of what the order kept (after delivery), once per key."""


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
