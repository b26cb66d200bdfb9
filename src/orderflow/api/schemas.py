"""Request and response bodies. Money is Decimal, written in JSON as a string ("51.98").

Request schemas check shape and type only (unknown fields are refused, quantities must be
JSON integers); the business rules (known SKU, positive quantity, two-letter country...)
stay in ``orderflow.domain.validation`` and come back as 422 problems naming the field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orderflow.domain.catalog import DEFAULT_WAREHOUSE, WAREHOUSES
from orderflow.domain.models import (
    Address,
    LineItem,
    Order,
    OrderTotal,
    ReservedLine,
    ServiceLevel,
)
from orderflow.domain.status import OrderStatus
from orderflow.domain.validation import MAX_TEXT, ORDER_ID_PATTERN
from orderflow.workflows.messages import (
    CompensationRecord,
    OrderResult,
    OrderState,
    PricedOrder,
    ShipmentOutcome,
)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        # JSON may escape lone UTF-16 surrogates ("\ud800"); they cannot be encoded
        # anywhere downstream, so refuse them here, naming the field.
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("must be valid Unicode text (no lone surrogates)") from None
        return value


class LineItemCreate(_Request):
    """One line: which SKU and how many (a JSON integer; 1.0 or "1" are refused)."""

    sku: str = Field(examples=["TEE-BLACK-M"])
    quantity: int = Field(strict=True, examples=[2])


class AddressCreate(_Request):
    """Where to ship. Every field is required; country is a two-letter ISO code."""

    name: str = Field(examples=["Ada Lovelace"])
    line1: str = Field(examples=["12 Analytical Way"])
    city: str = Field(examples=["London"])
    postal_code: str = Field(examples=["N1 9GU"])
    country: str = Field(examples=["GB"])


class OrderCreate(_Request):
    """An order as a client submits it; ``order_id`` is optional (see POST /orders)."""

    order_id: str | None = Field(
        default=None,
        pattern=ORDER_ID_PATTERN.pattern,
        description="Your id for the order; default: derived from Idempotency-Key, or new.",
    )
    customer_id: str = Field(default="", max_length=MAX_TEXT)
    items: list[LineItemCreate] = Field(min_length=1)
    address: AddressCreate
    payment_token: str = Field(repr=False, examples=["tok_visa"])
    service_level: ServiceLevel = ServiceLevel.STANDARD

    def to_order(self, order_id: str) -> Order:
        """The domain order under ``order_id``."""
        return Order(
            order_id=order_id,
            customer_id=self.customer_id,
            items=[LineItem(sku=item.sku, quantity=item.quantity) for item in self.items],
            address=Address(**self.address.model_dump()),
            payment_token=self.payment_token,
            service_level=self.service_level,
        )


class OrderLinePublic(BaseModel):
    """A priced line."""

    sku: str
    quantity: int
    unit_price: Decimal
    amount: Decimal


class PricedOrderPublic(BaseModel):
    """The validated, priced order: what POST /orders answers."""

    order_id: str
    status: OrderStatus
    total: OrderTotal
    lines: list[OrderLinePublic]
    needs_review: bool

    @classmethod
    def from_priced(cls, priced: PricedOrder) -> PricedOrderPublic:
        """From the workflow's answer."""
        return cls(
            order_id=priced.order_id,
            status=priced.status,
            total=priced.total,
            lines=[
                OrderLinePublic(
                    sku=line.sku,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    amount=line.amount,
                )
                for line in priced.lines
            ],
            needs_review=priced.needs_review,
        )


class ShipmentPublic(BaseModel):
    """The parcel from one warehouse: planned, reserved, quoted, booked, or undone."""

    warehouse: str
    status: str
    lines: list[ReservedLine]
    tracking_number: str | None = None
    estimated_days: int | None = None
    error: str = ""

    @classmethod
    def from_outcome(cls, outcome: ShipmentOutcome) -> ShipmentPublic:
        """From the workflow's record (our carrier cost stays internal)."""
        return cls(
            warehouse=outcome.warehouse,
            status=outcome.status,
            lines=outcome.lines,
            tracking_number=outcome.tracking_number,
            estimated_days=outcome.quote.estimated_days if outcome.quote else None,
            error=outcome.error,
        )


class OrderPublic(BaseModel):
    """An order as the API shows it, while it runs and after it finished."""

    order_id: str
    status: OrderStatus
    step: str = Field(default="", description="The step running now ('' when none).")
    reason: str = Field(default="", description="Why it failed or was cancelled.")
    failed_step: str = ""
    error_type: str = ""
    total: OrderTotal | None = None
    shipments: list[ShipmentPublic] = Field(default_factory=list)
    compensations: list[CompensationRecord] = Field(default_factory=list)
    attempts: dict[str, int] = Field(default_factory=dict)

    @classmethod
    def from_state(cls, state: OrderState) -> OrderPublic:
        """From the status query."""
        return cls(
            order_id=state.order_id,
            status=state.status,
            step=state.step,
            reason=state.reason,
            total=state.total,
            shipments=[ShipmentPublic.from_outcome(s) for s in state.shipments],
            compensations=state.compensations,
            attempts=state.attempts,
        )

    @classmethod
    def from_result(cls, result: OrderResult) -> OrderPublic:
        """From the order's final result."""
        return cls(
            order_id=result.order_id,
            status=result.status,
            reason=result.reason,
            failed_step=result.failed_step,
            error_type=result.error_type,
            total=result.total,
            shipments=[ShipmentPublic.from_outcome(s) for s in result.shipments],
            compensations=result.compensations,
            attempts=result.attempts,
        )


class OrderCancel(_Request):
    """Why the order is cancelled."""

    reason: str = Field(default="", max_length=MAX_TEXT, examples=["customer changed their mind"])


class OrderReview(_Request):
    """A reviewer's decision on an order awaiting review."""

    approved: bool = Field(strict=True)
    reviewer: str = Field(default="", max_length=MAX_TEXT, examples=["sam"])
    note: str = Field(default="", max_length=MAX_TEXT)


class Restock(_Request):
    """Units to add to one warehouse's shelf."""

    warehouse: str = Field(default=DEFAULT_WAREHOUSE, json_schema_extra={"enum": list(WAREHOUSES)})
    units: int = Field(strict=True, gt=0, le=1_000_000, examples=[5])

    @field_validator("warehouse")
    @classmethod
    def _known_warehouse(cls, value: str) -> str:
        if value not in WAREHOUSES:
            raise ValueError(f"unknown warehouse; one of {', '.join(WAREHOUSES)}")
        return value


class HealthPublic(BaseModel):
    """Whether the API can do its work: Temporal and the database answer."""

    status: Literal["ok", "degraded"]
    temporal: bool
    database: bool
