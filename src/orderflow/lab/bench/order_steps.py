"""orderflow's order as plain steps, for the peers (DBOS, Restate): the same work.

An orderflow order (v7, fault-free) does this database work, step by step, and so does a
peer's workflow built from these steps: the door checks the order against the catalog and
notes it received; validate (and note it validated, with its total); authorize the total;
allocate the lines to warehouses; per parcel reserve, quote (and note it), book and capture
its share of the total; record the outcome. Each step calls the same store and simulated
services as orderflow's activities, with the same idempotency keys, so the peers are
measured on the same workload; none injects faults, and none needs orderflow's saga.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from orderflow.adapters.simulated import InventorySystem, PaymentGateway, ShippingCarrier
from orderflow.domain.allocation import allocate
from orderflow.domain.catalog import WAREHOUSES
from orderflow.domain.models import (
    AuthorizationReceipt,
    CaptureReceipt,
    Order,
    PricedLine,
    ReservationReceipt,
    ShipmentReceipt,
    ShippingQuote,
    ValidatedOrder,
)
from orderflow.domain.pricing import price_order, split_total
from orderflow.domain.validation import validate_order
from orderflow.store import Store
from orderflow.store.repository import idempotency_key

#: How long a hold lasts (orderflow's default, ``ORDERFLOW_AUTHORIZATION_TTL_S``).
HOLD = timedelta(days=7)
#: The steps an order runs, in order (for a single-warehouse order; per parcel otherwise).
STEPS = (
    "validate",
    "authorize",
    "allocate",
    "reserve",
    "quote",
    "book",
    "capture",
    "record outcome",
)


@dataclass
class OrderSteps:
    """The steps over one store and its simulated services."""

    store: Store
    gateway: PaymentGateway
    inventory: InventorySystem
    carrier: ShippingCarrier

    @classmethod
    def over(cls, store: Store) -> OrderSteps:
        """Steps over ``store``, with fault-free services."""
        return cls(store, PaymentGateway(store), InventorySystem(store), ShippingCarrier(store))

    def admit(self, order: Order) -> None:
        """The door: the order checked against the catalog, and noted as received."""
        validate_order(order, self.store.catalog(wanted=[item.sku for item in order.items]))
        self.store.note_received(order.order_id, order.customer_id)

    def validate(self, order: Order) -> ValidatedOrder:
        """Validate and price the lines; note the order validated, with its total."""
        catalog = self.store.catalog(wanted=[item.sku for item in order.items])
        validated = validate_order(order, catalog)
        total = price_order(validated.lines, order.service_level).total
        self.store.note_validated(order.order_id, order.customer_id, total)
        return validated

    def authorize(self, order_id: str, amount: Decimal, token: str) -> AuthorizationReceipt:
        """Hold the total on the card."""
        return self.gateway.authorize(
            order_id,
            amount,
            token,
            idempotency_key(order_id, "authorize"),
            expires_at=datetime.now(timezone.utc) + HOLD,
        )

    def allocate(self, lines: list[PricedLine]) -> dict[str, list[PricedLine]]:
        """Which warehouse ships which lines."""
        return allocate(lines, self.inventory.availability(), WAREHOUSES)

    def reserve(self, order_id: str, lines: list[PricedLine], warehouse: str) -> ReservationReceipt:
        """Hold one parcel's stock."""
        return self.inventory.reserve(order_id, lines, warehouse)

    def quote(self, order: Order, lines: list[PricedLine], warehouse: str) -> ShippingQuote:
        """Quote one parcel's shipping; note the order quoted."""
        quote = self.carrier.quote(order.order_id, lines, order.service_level, warehouse)
        self.store.note_quoted(order.order_id, warehouse)
        return quote

    def book(self, quote: ShippingQuote) -> ShipmentReceipt:
        """Book one parcel's shipment."""
        return self.carrier.book(quote.order_id, quote)

    def capture(
        self, order_id: str, authorization: str, amount: Decimal, warehouse: str
    ) -> CaptureReceipt:
        """Take one parcel's share from the hold."""
        key = idempotency_key(order_id, f"capture:{warehouse}")
        return self.gateway.capture(order_id, authorization, amount, key)

    def finish(self, order_id: str, total: Decimal) -> None:
        """Record the outcome."""
        self.store.record_outcome(order_id, "COMPLETED", total, "")


def shares(total: Decimal, parcels: dict[str, list[PricedLine]]) -> dict[str, Decimal]:
    """Each parcel's share of the total (by goods value), as orderflow captures it."""
    return split_total(
        total,
        {
            warehouse: sum((line.amount for line in lines), Decimal("0"))
            for warehouse, lines in parcels.items()
        },
    )
