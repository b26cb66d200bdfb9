"""Order models. Pydantic models so Temporal's pydantic converter carries them (and Decimal)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from orderflow.domain.vocabulary import Vocabulary


class ServiceLevel(Vocabulary):
    """How fast the customer wants the goods."""

    STANDARD = "standard"
    EXPRESS = "express"


class LineItem(BaseModel):
    """One line as the customer asked for it. Rules are checked by ``validation``."""

    model_config = ConfigDict(frozen=True)

    sku: str
    quantity: int = Field(strict=True)


class Address(BaseModel):
    """Where to ship. Empty strings are allowed here and rejected by validation."""

    model_config = ConfigDict(frozen=True)

    name: str = ""
    line1: str = ""
    city: str = ""
    postal_code: str = ""
    country: str = ""


class Order(BaseModel):
    """An order as submitted: what, where, and how it is paid."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    customer_id: str = ""
    items: list[LineItem] = Field(default_factory=list)
    address: Address = Field(default_factory=Address)
    payment_token: str = ""
    service_level: ServiceLevel = ServiceLevel.STANDARD


class Product(BaseModel):
    """A catalog entry: price in the shop currency, weight for the carrier."""

    model_config = ConfigDict(frozen=True)

    sku: str
    name: str
    unit_price: Decimal = Field(ge=0, decimal_places=2)
    weight_grams: int = Field(ge=0)


class PricedLine(BaseModel):
    """A validated line with the catalog's price at validation time."""

    model_config = ConfigDict(frozen=True)

    sku: str
    quantity: int = Field(strict=True)
    unit_price: Decimal
    weight_grams: int

    @property
    def amount(self) -> Decimal:
        """Line amount (unit price times quantity), exact."""
        return self.unit_price * self.quantity


class ValidatedOrder(BaseModel):
    """The order after validation: every line known to the catalog and priced."""

    model_config = ConfigDict(frozen=True)

    order: Order
    lines: list[PricedLine]


class OrderTotal(BaseModel):
    """What the customer pays, in cents."""

    model_config = ConfigDict(frozen=True)

    subtotal: Decimal
    shipping_fee: Decimal
    tax: Decimal
    total: Decimal


class Receipt(BaseModel):
    """What a service call returned. ``attempt`` says which try produced it (1 = first)."""

    attempt: int = 1


class PaymentReceipt(Receipt):
    """A charge recorded in the ledger."""

    order_id: str
    reference: str
    amount: Decimal


class RefundReceipt(Receipt):
    """What a refund gave back; ``amount`` is 0 when nothing had been charged."""

    order_id: str
    amount: Decimal


class AuthorizationReceipt(Receipt):
    """A hold on the customer's card for ``amount``: no money has moved yet. It lapses at
    ``expires_at`` unless captured or voided first."""

    order_id: str
    reference: str
    amount: Decimal
    expires_at: datetime


class CaptureReceipt(Receipt):
    """Money taken from a hold (one parcel's share, when it ships)."""

    order_id: str
    reference: str
    authorization: str
    amount: Decimal
    warehouse: str = ""


class VoidReceipt(Receipt):
    """What a void released of the order's holds (0 when none was open)."""

    order_id: str
    amount: Decimal


class PaymentReleaseReceipt(Receipt):
    """What the payment's compensation undid: every capture refunded, the rest voided."""

    order_id: str
    refunded: Decimal
    voided: Decimal


class ReservedLine(BaseModel):
    """Units of one SKU held for an order."""

    sku: str
    quantity: int


class ReservationReceipt(Receipt):
    """The lines of an order held in one warehouse."""

    order_id: str
    lines: list[ReservedLine]
    warehouse: str = ""


class AllocationPlan(Receipt):
    """Which warehouse ships which lines."""

    order_id: str
    parcels: dict[str, list[PricedLine]]


class ReleaseReceipt(Receipt):
    """Units put back on the shelf; 0 when nothing was held."""

    order_id: str
    units: int


class ShippingQuote(Receipt):
    """The carrier's plan for a parcel: what it costs us and when it arrives."""

    order_id: str
    warehouse: str = ""
    service_level: ServiceLevel
    weight_grams: int
    cost: Decimal
    estimated_days: int


class ShipmentReceipt(Receipt):
    """A booked shipment."""

    order_id: str
    tracking_number: str
    warehouse: str = ""


class CancelShipmentReceipt(Receipt):
    """How many booked shipments were cancelled (0: none had been booked)."""

    order_id: str
    cancelled: int


class AfterSaleKind(Vocabulary):
    """What happens to a delivered order: money back, or goods and then money back."""

    REFUND = "refund"
    RETURN = "return"


class AfterSaleStatus(Vocabulary):
    """Where a refund or a return after delivery is."""

    #: A refund: being paid out. A return: waiting for the items to arrive.
    REQUESTED = "requested"
    #: A return's items arrived and went back on the shelf; the refund is being paid out.
    RECEIVED = "received"
    REFUNDED = "refunded"
    #: A return whose items did not arrive within the window: nothing refunded.
    EXPIRED = "expired"
    #: The gateway refused the refund (the reason says why); nothing refunded.
    FAILED = "failed"


class AfterSale(BaseModel):
    """A refund or a customer return of (part of) a delivered order."""

    return_id: str
    order_id: str
    kind: AfterSaleKind
    status: AfterSaleStatus
    #: The units given back (a return) or refunded (a refund by line); empty: no lines.
    lines: list[ReservedLine] = Field(default_factory=list)
    reason: str = ""
    amount: Decimal
    #: A return's window: the items must arrive before it ends.
    due_at: datetime | None = None
    created_at: datetime | None = None
    #: Why a refund failed.
    note: str = ""

    @property
    def settled(self) -> bool:
        """True once nothing more will happen to it."""
        return self.status in (
            AfterSaleStatus.REFUNDED,
            AfterSaleStatus.EXPIRED,
            AfterSaleStatus.FAILED,
        )
