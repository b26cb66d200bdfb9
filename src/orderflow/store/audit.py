"""The audit: cross-check the database for the invariants orderflow promises.

Per order (every order that touched the outside world):
- complete: charged exactly once and not refunded, its stock held, a shipment booked;
- clean: nothing charged net, no stock held, no shipment booked.
Anything else is a violation (charged twice, charged but not shipped, stock held for a
failed order, ...). Per SKU, stock is conserved: initial = available + held.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Engine, func, select, true

from orderflow.store.tables import payments, reservations, shipments, stock

COMPLETE, CLEAN, INCONSISTENT = "complete", "clean", "inconsistent"


class OrderFacts(BaseModel):
    """What the database says about one order."""

    charges: int = 0
    charged: Decimal = Decimal("0.00")
    refunded: Decimal = Decimal("0.00")
    units_held: int = 0
    shipment: str = "none"  # none | booked | cancelled

    @property
    def net(self) -> Decimal:
        """Money kept from the customer."""
        return self.charged - self.refunded

    @property
    def state(self) -> str:
        """complete, clean or inconsistent."""
        if (
            self.charges == 1
            and self.refunded == 0
            and self.units_held > 0
            and (self.shipment == "booked")
        ):
            return COMPLETE
        if self.net == 0 and self.units_held == 0 and self.shipment != "booked":
            return CLEAN
        return INCONSISTENT


class AuditReport(BaseModel):
    """The audit's verdict, with the figures the campaigns print."""

    ok: bool
    violations: list[str]
    orders_checked: int
    complete: int
    clean: int
    duplicate_charges: int
    orphaned_charges: int
    orphaned_reservations: int
    oversold_units: int
    states: dict[str, str] = Field(default_factory=dict, exclude=True)

    def summary(self) -> dict[str, object]:
        """The JSON shape printed by the CLI: ``{"ok": ..., "violations": [...]}`` and figures."""
        return self.model_dump()


def collect_facts(engine: Engine, order_prefix: str | None = None) -> dict[str, OrderFacts]:
    """Per-order facts from the ledger, reservations and shipments."""
    facts: dict[str, OrderFacts] = defaultdict(OrderFacts)

    def scoped(column: ColumnElement[str]) -> ColumnElement[bool]:
        return column.startswith(order_prefix, autoescape=True) if order_prefix else true()

    with engine.connect() as conn:
        for order_id, kind, count, total in conn.execute(
            select(payments.c.order_id, payments.c.kind, func.count(), func.sum(payments.c.amount))
            .where(scoped(payments.c.order_id))
            .group_by(payments.c.order_id, payments.c.kind)
        ):
            f = facts[order_id]
            if kind == "charge":
                f.charges, f.charged = count, total
            else:
                f.refunded = total
        for order_id, held in conn.execute(
            select(reservations.c.order_id, func.sum(reservations.c.quantity))
            .where(scoped(reservations.c.order_id), reservations.c.status == "held")
            .group_by(reservations.c.order_id)
        ):
            facts[order_id].units_held = int(held)
        for order_id, status in conn.execute(
            select(shipments.c.order_id, shipments.c.status).where(scoped(shipments.c.order_id))
        ):
            facts[order_id].shipment = status
    return dict(facts)


def describe(order_id: str, f: OrderFacts) -> str:
    """One human sentence for an inconsistent order."""
    problems = []
    if f.charges > 1:
        problems.append(f"charged {f.charges} times")
    if f.net < 0:
        problems.append(f"refunded {f.refunded} but charged only {f.charged}")
    elif f.net > 0 and f.shipment != "booked":
        problems.append(f"charged {f.net} but not shipped")
    if f.units_held and f.shipment != "booked":
        problems.append(f"{f.units_held} unit(s) held but not shipped")
    if f.shipment == "booked" and f.net <= 0:
        problems.append("shipment booked but not paid")
    if f.shipment == "booked" and f.units_held == 0:
        problems.append("shipment booked without stock held")
    return f"order {order_id}: " + ("; ".join(problems) or "inconsistent")


def run_audit(engine: Engine, order_prefix: str | None = None) -> AuditReport:
    """Check every invariant; scope per-order checks to ids starting with ``order_prefix``.

    Stock conservation is always checked over the whole database.
    """
    facts = collect_facts(engine, order_prefix)
    violations = [
        describe(order_id, f) for order_id, f in sorted(facts.items()) if f.state == INCONSISTENT
    ]
    oversold = 0
    with engine.connect() as conn:
        held_by_sku: dict[str, int] = {
            sku: int(units)
            for sku, units in conn.execute(
                select(reservations.c.sku, func.sum(reservations.c.quantity))
                .where(reservations.c.status == "held")
                .group_by(reservations.c.sku)
            )
        }
        for sku, initial, available in conn.execute(
            select(stock.c.sku, stock.c.initial, stock.c.available)
        ):
            held = int(held_by_sku.get(sku, 0))
            if available < 0 or initial != available + held:
                oversold += max(0, available + held - initial, -available)
                violations.append(
                    f"stock {sku}: initial {initial} != available {available} + held {held}"
                )
    states = {order_id: f.state for order_id, f in facts.items()}
    return AuditReport(
        ok=not violations,
        violations=violations,
        orders_checked=len(facts),
        complete=sum(1 for s in states.values() if s == COMPLETE),
        clean=sum(1 for s in states.values() if s == CLEAN),
        duplicate_charges=sum(f.charges - 1 for f in facts.values() if f.charges > 1),
        orphaned_charges=sum(1 for f in facts.values() if f.net > 0 and f.shipment != "booked"),
        orphaned_reservations=sum(
            1 for f in facts.values() if f.units_held > 0 and f.shipment != "booked"
        ),
        oversold_units=oversold,
        states=states,
    )
