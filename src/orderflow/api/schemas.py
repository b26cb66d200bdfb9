"""Request and response bodies. Money is Decimal, written in JSON as a string ("51.98").

The order a client posts is ``orderflow.app.intake.OrderCreate``, the one strict model every
door reads orders with (unknown fields refused, quantities JSON integers, bounded strings);
the business rules (known SKU, positive quantity, two-letter country...) run in the order
service before anything starts and come back as 422 problems naming the field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from orderflow.app.intake import (
    AddressCreate,
    LineItemCreate,
    OrderCreate,
    StrictModel,
)
from orderflow.domain.catalog import DEFAULT_WAREHOUSE, WAREHOUSES
from orderflow.domain.models import AfterSale, OrderTotal, ReservedLine
from orderflow.domain.status import OrderStatus
from orderflow.domain.validation import MAX_TEXT
from orderflow.workflows.messages import (
    CompensationAction,
    CompensationRecord,
    OrderMoney,
    OrderResult,
    OrderState,
    PricedOrder,
    ResolutionAction,
    ShipmentOutcome,
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
    owed: list[CompensationAction] = Field(
        default_factory=list,
        description="NEEDS_ATTENTION: the compensations still owed (settle with /resolve).",
    )
    money: OrderMoney | None = Field(
        default=None,
        description="Held (authorized), captured, voided, refunded, and what the shop kept.",
    )
    returns: list[AfterSale] = Field(
        default_factory=list, description="Refunds and returns after delivery."
    )

    @classmethod
    def from_state(cls, state: OrderState | OrderResult) -> OrderPublic:
        """From the status query, or from the order's final result."""
        return cls(
            order_id=state.order_id,
            status=state.status,
            step=state.step if isinstance(state, OrderState) else "",
            reason=state.reason,
            failed_step=state.failed_step,
            error_type=state.error_type,
            total=state.total,
            shipments=[ShipmentPublic.from_outcome(s) for s in state.shipments],
            compensations=state.compensations,
            attempts=state.attempts,
            owed=state.owed if isinstance(state, OrderState) else [],
            money=state.money if isinstance(state, OrderState) else None,
            returns=state.returns if isinstance(state, OrderState) else [],
        )


class OrderCancel(StrictModel):
    """Why the order is cancelled."""

    reason: str = Field(default="", max_length=MAX_TEXT, examples=["customer changed their mind"])


class OrderReview(StrictModel):
    """A reviewer's decision on an order awaiting review."""

    approved: bool = Field(strict=True)
    reviewer: str = Field(default="", max_length=MAX_TEXT, examples=["sam"])
    note: str = Field(default="", max_length=MAX_TEXT)


class OrderResolve(StrictModel):
    """An operator's resolution of an order that NEEDS_ATTENTION."""

    action: ResolutionAction = Field(
        description="retry: run the failed compensations again; mark_*: you did it by hand"
    )
    operator: str = Field(default="", max_length=MAX_TEXT, examples=["sam"])
    note: str = Field(default="", max_length=MAX_TEXT, examples=["refunded by bank transfer"])


class _OnAShelf(StrictModel):
    """A request about one warehouse's shelf."""

    warehouse: str = Field(default=DEFAULT_WAREHOUSE, json_schema_extra={"enum": list(WAREHOUSES)})

    @field_validator("warehouse")
    @classmethod
    def _known_warehouse(cls, value: str) -> str:
        if value not in WAREHOUSES:
            raise ValueError(f"unknown warehouse; one of {', '.join(WAREHOUSES)}")
        return value


class Restock(_OnAShelf):
    """Units to add to one warehouse's shelf."""

    units: int = Field(strict=True, gt=0, le=1_000_000, examples=[5])


class StockCount(_OnAShelf):
    """A shelf's units after a count (held units stay held)."""

    available: int = Field(strict=True, ge=0, le=1_000_000, examples=[40])


class HealthPublic(BaseModel):
    """Whether the API can do its work: Temporal and the database answer."""

    status: Literal["ok", "degraded"]
    temporal: bool
    database: bool


__all__ = [
    "AddressCreate",
    "HealthPublic",
    "LineItemCreate",
    "OrderCancel",
    "OrderCreate",
    "OrderPublic",
    "OrderResolve",
    "OrderReview",
    "PricedOrderPublic",
    "Restock",
    "StockCount",
]
