"""Simulated payment gateway, inventory system and shipping carrier over the real database.

Each service does its real work through a port of ``orderflow.domain.ports`` (the SQL store
implements them, so money and stock are real rows) and injects its faults at the boundary,
exactly where a network call would fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import ClassVar

from orderflow.adapters.faults import (
    NO_FAULTS,
    Fault,
    FaultPlan,
    ServiceUnavailable,
    call_with_faults,
)
from orderflow.domain.catalog import DEFAULT_WAREHOUSE
from orderflow.domain.errors import PaymentDeclined
from orderflow.domain.models import (
    CancelShipmentReceipt,
    PaymentReceipt,
    PricedLine,
    RefundReceipt,
    ReleaseReceipt,
    ReservationReceipt,
    ServiceLevel,
    ShipmentReceipt,
    ShippingQuote,
)
from orderflow.domain.money import to_cents
from orderflow.domain.ports import Ledger, ShipmentBook, Stockroom
from orderflow.domain.pricing import parcel_weight

#: Payment tokens the simulated card issuer always declines (documented for demos/tests).
DECLINED_TOKENS = frozenset({"tok_declined", "tok_insufficient_funds"})
#: A card that can be charged but never refunded (closed since): its refunds fail every
#: time, so a saga that must refund it ends NEEDS_ATTENTION for an operator to settle.
REFUND_REFUSED_TOKENS = frozenset({"tok_refund_fails"})
#: How the charges of such cards are marked in the ledger (the token itself never is).
NO_REFUND_PREFIX = "ch_norefund"


class RefundRefused(ServiceUnavailable):
    """The issuer refuses to refund this card (transient as far as the caller can tell)."""

    def __init__(self, service: str) -> None:
        Exception.__init__(self, f"{service}: the card issuer refuses refunds to this card")
        self.service = service
        self.fault = Fault.UNAVAILABLE


class PaymentGateway:
    """Charges and refunds cards; what it does is recorded in the ``ledger``."""

    name = "payment gateway"

    def __init__(self, ledger: Ledger, faults: FaultPlan = NO_FAULTS) -> None:
        self.ledger = ledger
        self.faults = faults

    def charge(
        self, order_id: str, amount: Decimal, token: str, idempotency_key: str
    ) -> PaymentReceipt:
        """Charge ``amount`` once per ``idempotency_key``.

        Raises:
            PaymentDeclined: the card was declined (a final answer).
        """

        def effect() -> PaymentReceipt:
            if token in DECLINED_TOKENS:
                # Never echo the token: it would end up in logs, history and the UI.
                raise PaymentDeclined(f"card declined for order {order_id}")
            prefix = NO_REFUND_PREFIX if token in REFUND_REFUSED_TOKENS else "ch"
            return self.ledger.charge(order_id, amount, idempotency_key, reference_prefix=prefix)

        return call_with_faults(self.name, self.faults, effect)

    def refund(self, order_id: str, idempotency_key: str) -> RefundReceipt:
        """Refund everything the order was charged, once.

        Raises:
            RefundRefused: the order was paid with a card that takes no refunds.
        """

        def effect() -> RefundReceipt:
            if any(r.startswith(NO_REFUND_PREFIX) for r in self.ledger.charge_references(order_id)):
                raise RefundRefused(self.name)
            return self.ledger.refund(order_id, idempotency_key)

        return call_with_faults(self.name, self.faults, effect)


class InventorySystem:
    """Holds and releases stock in the ``stockroom``."""

    name = "inventory system"

    def __init__(self, stockroom: Stockroom, faults: FaultPlan = NO_FAULTS) -> None:
        self.stockroom = stockroom
        self.faults = faults

    def availability(self) -> dict[str, dict[str, int]]:
        """Units available per warehouse and SKU (a snapshot)."""
        return call_with_faults(self.name, self.faults, self.stockroom.availability)

    def reserve(
        self, order_id: str, lines: Sequence[PricedLine], warehouse: str = DEFAULT_WAREHOUSE
    ) -> ReservationReceipt:
        """Hold all lines in ``warehouse`` or none (raises ``OutOfStock``)."""
        return call_with_faults(
            self.name, self.faults, lambda: self.stockroom.reserve(order_id, lines, warehouse)
        )

    def release(self, order_id: str) -> ReleaseReceipt:
        """Put the order's held units back."""
        return call_with_faults(self.name, self.faults, lambda: self.stockroom.release(order_id))


class ShippingCarrier:
    """Quotes, books and cancels shipments."""

    name = "shipping carrier"
    #: Our cost per parcel: base plus per started kilogram, by service level.
    RATES: ClassVar[dict[ServiceLevel, tuple[Decimal, Decimal, int]]] = {
        ServiceLevel.STANDARD: (Decimal("3.50"), Decimal("0.80"), 4),
        ServiceLevel.EXPRESS: (Decimal("9.00"), Decimal("1.60"), 1),
    }

    def __init__(self, shipments: ShipmentBook, faults: FaultPlan = NO_FAULTS) -> None:
        self.shipments = shipments
        self.faults = faults

    def quote(
        self,
        order_id: str,
        lines: Sequence[PricedLine],
        level: ServiceLevel,
        warehouse: str = DEFAULT_WAREHOUSE,
    ) -> ShippingQuote:
        """Price a parcel from ``warehouse`` and estimate delivery (no side effect)."""

        def effect() -> ShippingQuote:
            weight = parcel_weight(lines)
            base, per_kg, days = self.RATES[level]
            kilograms = -(-weight // 1000)  # started kilograms
            return ShippingQuote(
                order_id=order_id,
                warehouse=warehouse,
                service_level=level,
                weight_grams=weight,
                cost=to_cents(base + per_kg * kilograms),
                estimated_days=days,
            )

        return call_with_faults(self.name, self.faults, effect)

    def book(self, order_id: str, quote: ShippingQuote) -> ShipmentReceipt:
        """Book the shipment once per order; returns the tracking number."""
        return call_with_faults(
            self.name,
            self.faults,
            lambda: self.shipments.book_shipment(
                order_id, quote.service_level, quote.cost, quote.warehouse or DEFAULT_WAREHOUSE
            ),
        )

    def cancel(self, order_id: str) -> CancelShipmentReceipt:
        """Cancel the order's booked shipments, if any."""
        return call_with_faults(
            self.name, self.faults, lambda: self.shipments.cancel_shipment(order_id)
        )
