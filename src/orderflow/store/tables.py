"""Table definitions. Money is stored as integer cents and read back as Decimal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from orderflow.domain.money import CENT

#: Largest amount in cents a BIGINT column holds.
MAX_CENTS = 2**63 - 1


class Money(TypeDecorator[Decimal]):
    """Decimal in Python, exact integer cents in the database (SQLite has no decimal type)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if not value.is_finite():
            raise ValueError(f"amount {value} is not a finite number")
        cents = value / CENT
        if cents != cents.to_integral_value():
            raise ValueError(f"amount {value} has more than two decimal places")
        if not -MAX_CENTS <= cents <= MAX_CENTS:
            raise ValueError(f"amount {value} is out of range (at most {MAX_CENTS * CENT})")
        return int(cents)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(int(value)) * CENT).quantize(CENT)


metadata = MetaData()

products = Table(
    "products",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("unit_price", Money, nullable=False),
    Column("weight_grams", Integer, nullable=False),
)

stock = Table(
    "stock",
    metadata,
    Column("warehouse", String(32), primary_key=True),
    Column("sku", String(64), ForeignKey("products.sku"), primary_key=True),
    # Every unit ever put on the shelf; conservation: initial = available + held.
    Column("initial", Integer, nullable=False, default=0),
    Column("available", Integer, nullable=False, default=0),
    CheckConstraint("available >= 0", name="stock_available_not_negative"),
)

# One row per order that touched the outside world; side effects lock it so a step and
# its compensation for the same order never interleave (a row lock on PostgreSQL).
orders = Table(
    "orders",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Compensation tombstones: once set, a late retry of the step must not act.
    Column("refunded", Boolean, nullable=False, default=False),
    Column("released", Boolean, nullable=False, default=False),
    Column("shipment_cancelled", Boolean, nullable=False, default=False),
    # The order's outcome as the workflow recorded it (NULL while it runs).
    Column("status", String(32), nullable=True),
    Column("total", Money, nullable=True),
    Column("reason", String(500), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    # The console's read model, kept current by the activities (migration 0004): the
    # customer, the current state and step, when it last changed, a failure's type, and
    # when a review wait ends.
    Column("customer_id", String(200), nullable=True),
    Column("state", String(32), nullable=True),
    Column("step", String(64), nullable=True),
    Column("error_type", String(64), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Column("due_at", DateTime(timezone=True), nullable=True),
    Index("orders_by_state", "state", "created_at"),
    Index("orders_by_created", "created_at"),
    Index("orders_by_customer", "customer_id", "created_at"),
    Index("orders_by_finished", "finished_at"),
)

reservations = Table(
    "reservations",
    metadata,
    Column("order_id", String(64), ForeignKey("orders.order_id"), primary_key=True),
    Column("warehouse", String(32), primary_key=True),
    Column("sku", String(64), ForeignKey("products.sku"), primary_key=True),
    Column("quantity", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # held | released
    CheckConstraint("quantity >= 0", name="reservation_quantity_not_negative"),
)

payments = Table(
    "payments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", String(64), ForeignKey("orders.order_id"), nullable=False, index=True),
    # authorize | capture | void | refund; charge for orders taken the old way
    Column("kind", String(16), nullable=False),
    Column("amount", Money, nullable=False),
    Column("idempotency_key", String(128), nullable=False, unique=True),
    Column("reference", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # A capture's or a void's hold (its authorize row's reference); a hold's lapse.
    Column("authorization_ref", String(64), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    # Why a refund after delivery was made (who, which lines); empty for the saga's own.
    Column("note", String(500), nullable=True),
    CheckConstraint("amount >= 0", name="payment_amount_not_negative"),
    Index("payments_by_created", "created_at"),
    Index("payments_by_authorization", "authorization_ref"),
)

# One row per refund or customer return after delivery. A refund: requested, then
# refunded (or failed). A return: requested, received (the units go back on the shelf),
# refunded; or expired when the items did not arrive within the window.
returns = Table(
    "returns",
    metadata,
    Column("return_id", String(64), primary_key=True),
    Column("order_id", String(64), ForeignKey("orders.order_id"), nullable=False),
    Column("kind", String(16), nullable=False),  # refund | return
    Column("status", String(16), nullable=False),
    Column("lines", Text, nullable=False),  # JSON: [{"sku": ..., "quantity": ...}]
    Column("reason", String(500), nullable=False, server_default=""),
    Column("amount", Money, nullable=True),
    Column("due_at", DateTime(timezone=True), nullable=True),
    Column("note", String(500), nullable=True),  # why a refund failed
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Index("returns_by_order", "order_id"),
)

shipments = Table(
    "shipments",
    metadata,
    Column("order_id", String(64), ForeignKey("orders.order_id"), primary_key=True),
    Column("warehouse", String(32), primary_key=True),
    Column("tracking_number", String(64), nullable=False),
    Column("service_level", String(16), nullable=False),
    Column("cost", Money, nullable=False),
    Column("status", String(16), nullable=False),  # booked | cancelled
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Facts about this database (``store_id``: its identity, made at the first migration).
store_meta = Table(
    "store_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(200), nullable=False),
)

# One row per restock idempotency key: a retried restock adds its units once.
restocks = Table(
    "restocks",
    metadata,
    Column("idempotency_key", String(128), primary_key=True),
    Column("warehouse", String(32), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("units", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# One row per reconciliation pass: what it checked and the drift it found (its lines).
reconcile_runs = Table(
    "reconcile_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("orders_checked", Integer, nullable=False),
    Column("drift", Integer, nullable=False),
    Column("repaired", Integer, nullable=False),
    Column("lines", Text, nullable=False),
)
