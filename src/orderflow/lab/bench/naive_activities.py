"""Activities of the naive Temporal version (see ``naive``): one per step of the spec.

Written the way the spec reads: validate, calculate the total, charge, reserve, quote
shipping, schedule the shipment. Each does the same database work as orderflow's (the
same store and simulated services, no injected faults here), but without orderflow's
error translation, metrics or idempotency keys per step.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from temporalio import activity

from orderflow.adapters.simulated import InventorySystem, PaymentGateway, ShippingCarrier
from orderflow.domain.models import (
    Order,
    OrderTotal,
    PaymentReceipt,
    ReservationReceipt,
    ShipmentReceipt,
    ShippingQuote,
    ValidatedOrder,
)
from orderflow.domain.pricing import price_order
from orderflow.domain.validation import validate_order
from orderflow.store.repository import Store


class NaiveActivities:
    """Six activities over the store and the simulated services."""

    def __init__(
        self,
        store: Store,
        gateway: PaymentGateway,
        inventory: InventorySystem,
        carrier: ShippingCarrier,
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.inventory = inventory
        self.carrier = carrier

    @activity.defn(name="naive_validate_order")
    def validate_order(self, order: Order) -> ValidatedOrder:
        """Check the order against the catalog and price its lines."""
        return validate_order(order, self.store.catalog())

    @activity.defn(name="naive_calculate_total")
    def calculate_total(self, validated: ValidatedOrder) -> OrderTotal:
        """The spec's 'calculate total' step, as an activity."""
        return price_order(validated.lines, validated.order.service_level)

    @activity.defn(name="naive_process_payment")
    def process_payment(self, order_id: str, amount: Decimal, token: str) -> PaymentReceipt:
        """Charge the card."""
        return self.gateway.charge(order_id, amount, token, f"{order_id}:payment")

    @activity.defn(name="naive_reserve_inventory")
    def reserve_inventory(self, validated: ValidatedOrder) -> ReservationReceipt:
        """Hold the stock."""
        return self.inventory.reserve(validated.order.order_id, validated.lines)

    @activity.defn(name="naive_calculate_shipping")
    def calculate_shipping(self, validated: ValidatedOrder) -> ShippingQuote:
        """Ask the carrier for a quote."""
        order = validated.order
        return self.carrier.quote(order.order_id, validated.lines, order.service_level)

    @activity.defn(name="naive_schedule_shipment")
    def schedule_shipment(self, quote: ShippingQuote) -> ShipmentReceipt:
        """Book the shipment."""
        return self.carrier.book(quote.order_id, quote)

    def all(self) -> list[Callable[..., object]]:
        """Every activity, for worker registration."""
        return [
            self.validate_order,
            self.calculate_total,
            self.process_payment,
            self.reserve_inventory,
            self.calculate_shipping,
            self.schedule_shipment,
        ]
