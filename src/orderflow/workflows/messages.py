"""Inputs and outputs of the order workflow and its activities (one model per call)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from orderflow.domain.models import (
    Order,
    OrderTotal,
    PaymentReceipt,
    PricedLine,
    ReservationReceipt,
    ServiceLevel,
    ShipmentReceipt,
    ShippingQuote,
)
from orderflow.domain.status import OrderStatus

#: Step names, used in results, logs, compensation records and retry figures.
STEPS = ("validate", "payment", "inventory", "shipping_quote", "shipment")


class RetryOptions(BaseModel):
    """One Temporal RetryPolicy plus the per-attempt timeout, as plain numbers."""

    max_attempts: int = 3
    initial_interval_ms: int = 200
    backoff: float = 2.0
    max_interval_ms: int = 2_000
    attempt_timeout_ms: int = 10_000


class OrderOptions(BaseModel):
    """How persistently the workflow retries; part of the input so tests can shorten it."""

    steps: RetryOptions = Field(default_factory=RetryOptions)
    # Compensations must not give up easily: more attempts, longer back-off.
    compensations: RetryOptions = Field(
        default_factory=lambda: RetryOptions(
            max_attempts=20, initial_interval_ms=500, backoff=2.0, max_interval_ms=10_000
        )
    )


class OrderInput(BaseModel):
    """The workflow's single argument."""

    order: Order
    options: OrderOptions = Field(default_factory=OrderOptions)


class PaymentRequest(BaseModel):
    order_id: str
    amount: Decimal
    payment_token: str


class ReserveRequest(BaseModel):
    order_id: str
    lines: list[PricedLine]


class QuoteRequest(BaseModel):
    order_id: str
    lines: list[PricedLine]
    service_level: ServiceLevel


class ShipmentRequest(BaseModel):
    order_id: str
    quote: ShippingQuote


class CompensationRequest(BaseModel):
    order_id: str


class CompensationRecord(BaseModel):
    """One compensation the saga ran: which step it undid and what happened."""

    step: str
    action: str
    ok: bool
    undid_something: bool
    detail: str
    attempts: int = 1


class OrderResult(BaseModel):
    """The business outcome of an order. Failure is a result, not a crashed workflow."""

    order_id: str
    status: OrderStatus
    reason: str = ""
    failed_step: str = ""
    total: OrderTotal | None = None
    payment: PaymentReceipt | None = None
    reservation: ReservationReceipt | None = None
    quote: ShippingQuote | None = None
    shipment: ShipmentReceipt | None = None
    compensations: list[CompensationRecord] = Field(default_factory=list)
    attempts: dict[str, int] = Field(default_factory=dict)

    @property
    def retries(self) -> int:
        """Attempts beyond the first, over every step and compensation."""
        steps = sum(max(0, n - 1) for n in self.attempts.values())
        return steps + sum(max(0, c.attempts - 1) for c in self.compensations)

    @property
    def compensated(self) -> bool:
        """True when a compensation actually undid something (money back, stock released)."""
        return any(c.undid_something for c in self.compensations)


class OrderState(BaseModel):
    """What the status query returns while the order runs."""

    order_id: str
    status: OrderStatus
    step: str
    attempts: dict[str, int]
    compensations: list[CompensationRecord]
