"""Simulated payment gateway, inventory system and shipping carrier over the real database.

Each service does its real work through a port of ``orderflow.domain.ports`` (the SQL store
implements them, so money and stock are real rows) and injects its faults at the boundary,
exactly where a network call would fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
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
    ShippingQuote,
    VoidReceipt,
)
from orderflow.domain.money import to_cents
from orderflow.domain.ports import Ledger, ShipmentBook, Stockroom
from orderflow.domain.pricing import parcel_weight

#: Payment tokens the simulated card issuer always declines (documented for demos/tests).
DECLINED_TOKENS = frozenset({"tok_declined", "tok_insufficient_funds"})
#: A card that can be charged but whose money never comes back (closed since): its voids
#: and refunds fail every time, so a saga that must release its payment ends
#: NEEDS_ATTENTION for an operator to settle.
REFUND_REFUSED_TOKENS = frozenset({"tok_refund_fails"})
#: A card whose first authorization passes but whose re-authorization (an order waiting
#: past its hold's expiry) is declined.
REAUTH_DECLINED_TOKENS = frozenset({"tok_reauth_declined"})
#: How the charges and holds of cards that take nothing back are marked in the ledger (the
#: token itself never is).
NO_REFUND_PREFIX = "ch_norefund"
NO_VOID_PREFIX = "au_norefund"


class RefundRefused(ServiceUnavailable):
    """The issuer refuses to give money back to this card (transient as far as the caller
    can tell): a refund, or a void."""

    def __init__(self, service: str, what: str = "refunds") -> None:
        Exception.__init__(self, f"{service}: the card issuer refuses {what} to this card")
        self.service = service
        self.fault = Fault.UNAVAILABLE


class PaymentGateway:
    """Authorizes, captures, voids and refunds cards (and charges them the old way); what it
    does is recorded in the ``ledger``, whose rules it enforces."""

    name = "payment gateway"

    def __init__(self, ledger: Ledger, faults: FaultPlan = NO_FAULTS) -> None:
        self.ledger = ledger
        self.faults = faults

    def _takes_nothing_back(self, order_id: str) -> bool:
        return any(
            ref.startswith((NO_REFUND_PREFIX, NO_VOID_PREFIX))
            for ref in self.ledger.charge_references(order_id)
        )

    def charge(
        self, order_id: str, amount: Decimal, token: str, idempotency_key: str
    ) -> PaymentReceipt:
        """Charge ``amount`` once per ``idempotency_key`` (authorize and capture at once:
        orders taken the old way, and the legacy processor).

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

    def authorize(
        self,
        order_id: str,
        amount: Decimal,
        token: str,
        idempotency_key: str,
        *,
        expires_at: datetime,
        again: bool = False,
    ) -> AuthorizationReceipt:
        """Hold ``amount`` on the card until ``expires_at``, once per key (``again``: a
        re-authorization of an order whose hold is about to lapse).

        Raises:
            PaymentDeclined: the card was declined (a final answer).
        """

        def effect() -> AuthorizationReceipt:
            if token in DECLINED_TOKENS or (again and token in REAUTH_DECLINED_TOKENS):
                what = "re-authorization" if again else "card"
                raise PaymentDeclined(f"{what} declined for order {order_id}")
            prefix = NO_VOID_PREFIX if token in REFUND_REFUSED_TOKENS else "au"
            return self.ledger.authorize(
                order_id, amount, idempotency_key, expires_at=expires_at, reference_prefix=prefix
            )

        return call_with_faults(self.name, self.faults, effect)

    def capture(
        self, order_id: str, authorization: str, amount: Decimal, idempotency_key: str
    ) -> CaptureReceipt:
        """Take ``amount`` from a hold, once per key.

        Raises:
            PaymentRefused: above what the hold has left, or after its void or lapse.
        """
        return call_with_faults(
            self.name,
            self.faults,
            lambda: self.ledger.capture(order_id, authorization, amount, idempotency_key),
        )

    def void(self, order_id: str, idempotency_key: str) -> VoidReceipt:
        """Release every open hold of the order, once per key.

        Raises:
            RefundRefused: the card takes nothing back.
        """

        def effect() -> VoidReceipt:
            if self._takes_nothing_back(order_id):
                raise RefundRefused(self.name, "voids")
            return self.ledger.void(order_id, idempotency_key)

        return call_with_faults(self.name, self.faults, effect)

    def void_hold(self, order_id: str, authorization: str, idempotency_key: str) -> VoidReceipt:
        """Release one hold that a new one replaced, once per key."""
        return call_with_faults(
            self.name,
            self.faults,
            lambda: self.ledger.void_hold(order_id, authorization, idempotency_key),
        )

    def refund(self, order_id: str, idempotency_key: str) -> RefundReceipt:
        """Refund everything the order kept, once (the saga's compensation).

        Raises:
            RefundRefused: the order was paid with a card that takes no refunds.
        """

        def effect() -> RefundReceipt:
            if self._takes_nothing_back(order_id):
                raise RefundRefused(self.name)
            return self.ledger.refund(order_id, idempotency_key)

        return call_with_faults(self.name, self.faults, effect)

    def refund_amount(
        self, order_id: str, amount: Decimal, idempotency_key: str, note: str = ""
    ) -> RefundReceipt:
        """Refund part of what a delivered order kept, once per key.

        Raises:
            PaymentRefused: more than the order kept.
            RefundRefused: the order was paid with a card that takes no refunds.
        """

        def effect() -> RefundReceipt:
            if self._takes_nothing_back(order_id):
                raise RefundRefused(self.name)
            return self.ledger.refund_amount(order_id, amount, idempotency_key, note=note)

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
