"""The naive order processor, reimplemented faithfully from the spec's starting point.

DO NOT COPY THIS. It is here to be compared with the Temporal version:
- retries are hand-written loops inside each function (sleep and try again);
- every payment attempt sends a fresh idempotency key, so a lost response charges twice;
- nothing is compensated: a failure after payment leaves the customer charged and the
  stock held, with no shipment;
- all progress lives in memory: a crash mid-order forgets where it was.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from orderflow.adapters.faults import ServiceUnavailable
from orderflow.adapters.simulated import InventorySystem, PaymentGateway, ShippingCarrier
from orderflow.domain.errors import BusinessError
from orderflow.domain.models import Order, OrderTotal, ValidatedOrder
from orderflow.domain.pricing import price_order
from orderflow.domain.validation import validate_order
from orderflow.store.repository import Store

log = logging.getLogger("orderflow.lab.legacy")
T = TypeVar("T")


class LegacyOrderProcessor:
    """Processes one order at a time, start to finish, in this process's memory."""

    def __init__(
        self,
        store: Store,
        gateway: PaymentGateway,
        inventory: InventorySystem,
        carrier: ShippingCarrier,
        max_retries: int = 3,
        retry_delay: float = 0.05,
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.inventory = inventory
        self.carrier = carrier
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self.retries = 0
        self._lock = threading.Lock()

    def _with_retries(self, order_id: str, what: str, call: Callable[[], T]) -> T:
        # The naive pattern the spec started from: a loop, a sleep, and hope.
        for attempt in range(1, self.max_retries + 1):
            try:
                return call()
            except ServiceUnavailable as err:
                if attempt == self.max_retries:
                    raise
                with self._lock:
                    self.retries += 1
                log.warning("order %s: %s failed (%s), retrying", order_id, what, err)
                time.sleep(self.retry_delay * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def validate_order(self, order: Order) -> ValidatedOrder:
        return validate_order(order, self.store.catalog())

    def calculate_total(self, validated: ValidatedOrder) -> OrderTotal:
        return price_order(validated.lines, validated.order.service_level)

    def process_payment(self, order: Order, amount: Decimal) -> str:
        def charge() -> str:
            # A new key per attempt: the gateway cannot tell a retry from a new charge.
            key = f"{order.order_id}:{uuid.uuid4().hex}"
            return self.gateway.charge(order.order_id, amount, order.payment_token, key).reference

        return self._with_retries(order.order_id, "payment", charge)

    def reserve_inventory(self, validated: ValidatedOrder) -> None:
        order_id = validated.order.order_id
        self._with_retries(
            order_id, "inventory", lambda: self.inventory.reserve(order_id, validated.lines)
        )

    def schedule_shipment(self, validated: ValidatedOrder) -> str:
        order = validated.order
        quote = self._with_retries(
            order.order_id,
            "shipping quote",
            lambda: self.carrier.quote(order.order_id, validated.lines, order.service_level),
        )
        receipt = self._with_retries(
            order.order_id, "shipment", lambda: self.carrier.book(order.order_id, quote)
        )
        return receipt.tracking_number

    def process_order(self, order: Order) -> dict[str, str]:
        """Run the six steps; on any error, report failure and move on (no compensation)."""
        try:
            validated = self.validate_order(order)
            total = self.calculate_total(validated)
            self.process_payment(order, total.total)
            self.reserve_inventory(validated)
            tracking = self.schedule_shipment(validated)
        except (BusinessError, ServiceUnavailable) as err:
            log.error("order %s failed: %s", order.order_id, err)
            return {
                "order_id": order.order_id,
                "status": "failed",
                "reason": str(err),
                "error": type(err).__name__,
            }
        return {"order_id": order.order_id, "status": "completed", "tracking": tracking}
