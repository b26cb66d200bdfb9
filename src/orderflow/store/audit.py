"""The audit: cross-check the database for the invariants orderflow promises.

Per order (every order that touched the outside world):
- complete: paid once (its holds captured, or charged the old way) and refunded at most
  what was taken, no hold left open, its stock held, a shipment booked;
- clean: nothing kept net, no hold left open, no stock held, no shipment booked.
Anything else is a violation (charged twice, charged but not shipped, a hold left open,
stock held for a failed order, ...). The gateway's rules are checked too: no capture above
its hold, after the hold's void or lapse; no refund above what was taken. Per SKU, stock is
conserved: initial = available + held.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Engine, func, select, true

from orderflow.store.tables import orders, payments, reservations, shipments, stock

COMPLETE, CLEAN, INCONSISTENT = "complete", "clean", "inconsistent"


class OrderFacts(BaseModel):
    """What the database says about one order."""

    charges: int = 0
    charged: Decimal = Decimal("0.00")
    refunded: Decimal = Decimal("0.00")
    #: Orders taken by authorization: held, taken from the holds, released.
    authorized: Decimal = Decimal("0.00")
    captured: Decimal = Decimal("0.00")
    voided: Decimal = Decimal("0.00")
    #: Refunds made after delivery (with a reason), as opposed to the saga's own.
    refunded_after_delivery: Decimal = Decimal("0.00")
    #: What holds still hold (neither captured, voided nor lapsed), and how many.
    held: Decimal = Decimal("0.00")
    open_holds: int = 0
    #: The gateway's rules broken: captures above their hold, after its void or lapse.
    captures_above: int = 0
    captures_after_release: int = 0
    units_held: int = 0
    booked: int = 0  # shipments booked (one per warehouse)
    cancelled: int = 0  # shipments cancelled
    #: Per-warehouse mismatches: stock held where nothing ships, or a parcel with no stock.
    unshipped_parcels: int = 0
    empty_shipments: int = 0

    @property
    def taken(self) -> Decimal:
        """Money taken from the customer: captures and old-style charges."""
        return self.charged + self.captured

    @property
    def net(self) -> Decimal:
        """Money kept from the customer."""
        return self.taken - self.refunded

    @property
    def rules_broken(self) -> bool:
        """A capture or a refund the gateway's rules forbid."""
        return bool(self.captures_above or self.captures_after_release or self.net < 0)

    @property
    def paid_once(self) -> bool:
        """Charged exactly once the old way, or paid by captures (never both)."""
        if self.captured > 0:
            return self.charges == 0
        return self.charges == 1

    @property
    def state(self) -> str:
        """complete, clean or inconsistent."""
        if self.rules_broken or self.open_holds:
            return INCONSISTENT
        if (
            self.paid_once
            and self.refunded == self.refunded_after_delivery
            and self.units_held > 0
            and self.booked > 0
            and self.cancelled == 0
            and self.unshipped_parcels == 0
            and self.empty_shipments == 0
        ):
            return COMPLETE
        if self.net == 0 and self.units_held == 0 and self.booked == 0:
            return CLEAN
        return INCONSISTENT


class AuditSummary(BaseModel):
    """The audit's verdict as a run prints it (``--json``): its keys are part of the output."""

    ok: bool = False
    violations: list[str] = Field(default_factory=list)
    orders_checked: int = 0
    duplicate_charges: int = 0
    orphaned_charges: int = 0
    orphaned_reservations: int = 0
    oversold_units: int = 0
    holds_left_open: int = 0
    captures_above_authorization: int = 0
    refunds_above_capture: int = 0
    money: MoneyTotals = Field(default_factory=lambda: MoneyTotals())


class MoneyTotals(BaseModel):
    """The audited orders' money in total: held (authorized), captured, voided, refunded,
    charged the old way, and what the shop keeps (captured + charged - refunded)."""

    authorized: Decimal = Decimal("0.00")
    captured: Decimal = Decimal("0.00")
    voided: Decimal = Decimal("0.00")
    refunded: Decimal = Decimal("0.00")
    charged: Decimal = Decimal("0.00")
    kept: Decimal = Decimal("0.00")

    @classmethod
    def of(cls, facts: Iterable[OrderFacts]) -> MoneyTotals:
        """The sums over ``facts``."""
        total = cls()
        for f in facts:
            total.authorized += f.authorized
            total.captured += f.captured
            total.voided += f.voided
            total.refunded += f.refunded
            total.charged += f.charged
            total.kept += f.net
        return total

    def line(self) -> str:
        """``authorized 1.00 | captured 1.00 | voided 0.00 | refunded 0.00`` (and charged)."""
        parts = [
            f"authorized {self.authorized}",
            f"captured {self.captured}",
            f"voided {self.voided}",
            f"refunded {self.refunded}",
        ]
        if self.charged:
            parts.append(f"charged {self.charged}")
        return " | ".join(parts)


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
    holds_left_open: int = 0
    captures_above_authorization: int = 0
    refunds_above_capture: int = 0
    money: MoneyTotals = Field(default_factory=MoneyTotals)
    states: dict[str, str] = Field(default_factory=dict, exclude=True)

    def summary(self) -> dict[str, object]:
        """The JSON shape printed by the CLI: ``{"ok": ..., "violations": [...]}`` and figures."""
        return self.model_dump()

    def with_problems(self, problems: list[str]) -> AuditSummary:
        """The verdict with further violations a runner found (outcomes cross-checked)."""
        violations = [*self.violations, *problems]
        return AuditSummary(
            ok=not violations,
            violations=violations,
            orders_checked=self.orders_checked,
            duplicate_charges=self.duplicate_charges,
            orphaned_charges=self.orphaned_charges,
            orphaned_reservations=self.orphaned_reservations,
            oversold_units=self.oversold_units,
            holds_left_open=self.holds_left_open,
            captures_above_authorization=self.captures_above_authorization,
            refunds_above_capture=self.refunds_above_capture,
            money=self.money,
        )


#: Orders per chunk of the audit and the reconciliation: memory stays bounded by this,
#: not by the store's size.
CHUNK_ORDERS = 5_000


def collect_facts(
    engine: Engine,
    order_prefix: str | None = None,
    *,
    between: tuple[str, str] | None = None,
) -> dict[str, OrderFacts]:
    """Per-order facts from the ledger, reservations and shipments (of the orders whose
    ids are ``between`` two ids, inclusive, when given)."""
    facts: dict[str, OrderFacts] = defaultdict(OrderFacts)

    def scoped(column: ColumnElement[str]) -> ColumnElement[bool]:
        where = column.startswith(order_prefix, autoescape=True) if order_prefix else true()
        if between is not None:
            where = where & column.between(*between)
        return where

    with engine.connect() as conn:
        after_delivery = payments.c.note.is_not(None)
        for order_id, kind, later, count, total in conn.execute(
            select(
                payments.c.order_id,
                payments.c.kind,
                after_delivery,
                func.count(),
                func.sum(payments.c.amount),
            )
            .where(scoped(payments.c.order_id))
            .group_by(payments.c.order_id, payments.c.kind, after_delivery)
        ):
            f = facts[order_id]
            if kind == "charge":
                f.charges, f.charged = f.charges + count, f.charged + total
            elif kind == "refund":
                f.refunded += total
                if later:
                    f.refunded_after_delivery += total
            elif kind == "authorize":
                f.authorized = total
            elif kind == "capture":
                f.captured = total
            elif kind == "void":
                f.voided = total
        _hold_facts(conn, facts, scoped)
        held_in: set[tuple[str, str]] = set()
        for order_id, warehouse, held in conn.execute(
            select(
                reservations.c.order_id, reservations.c.warehouse, func.sum(reservations.c.quantity)
            )
            .where(scoped(reservations.c.order_id), reservations.c.status == "held")
            .group_by(reservations.c.order_id, reservations.c.warehouse)
        ):
            facts[order_id].units_held += int(held)
            held_in.add((order_id, warehouse))
        booked_in: set[tuple[str, str]] = set()
        for order_id, warehouse, status in conn.execute(
            select(shipments.c.order_id, shipments.c.warehouse, shipments.c.status).where(
                scoped(shipments.c.order_id)
            )
        ):
            if status == "booked":
                facts[order_id].booked += 1
                booked_in.add((order_id, warehouse))
            else:
                facts[order_id].cancelled += 1
        for order_id, _warehouse in held_in - booked_in:
            facts[order_id].unshipped_parcels += 1
        for order_id, _warehouse in booked_in - held_in:
            facts[order_id].empty_shipments += 1
    return dict(facts)


def _hold_facts(conn: Any, facts: dict[str, OrderFacts], scoped: Any) -> None:
    """Per hold: what it still holds, and captures its rules forbid."""
    now = datetime.now(timezone.utc)
    holds: dict[str, dict[str, Any]] = {}
    for order_id, kind, amount, reference, authorization, expires_at, created_at in conn.execute(
        select(
            payments.c.order_id,
            payments.c.kind,
            payments.c.amount,
            payments.c.reference,
            payments.c.authorization_ref,
            payments.c.expires_at,
            payments.c.created_at,
        )
        .where(
            scoped(payments.c.order_id),
            payments.c.kind.in_(("authorize", "capture", "void")),
        )
        .order_by(payments.c.id)
    ):
        if kind == "authorize":
            holds[reference] = {
                "order": order_id,
                "amount": amount,
                "expires": _aware(expires_at),
                "captured": Decimal("0.00"),
                "voided": Decimal("0.00"),
                "void_at": None,
            }
            continue
        hold = holds.get(authorization)
        if hold is None:
            facts[order_id].captures_above += kind == "capture"  # a capture without a hold
            continue
        if kind == "void":
            hold["voided"] += amount
            hold["void_at"] = hold["void_at"] or _aware(created_at)
            continue
        hold["captured"] += amount
        at = _aware(created_at)
        released = hold["void_at"] is not None or (
            hold["expires"] is not None and at is not None and at > hold["expires"]
        )
        facts[order_id].captures_after_release += bool(released)
    for hold in holds.values():
        f = facts[hold["order"]]
        if hold["captured"] > hold["amount"]:
            f.captures_above += 1
        left = hold["amount"] - hold["captured"] - hold["voided"]
        lapsed = hold["expires"] is not None and now >= hold["expires"]
        if left > 0 and not lapsed:
            f.held += left
            f.open_holds += 1


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def describe(order_id: str, f: OrderFacts) -> str:
    """One human sentence for an inconsistent order."""
    problems = []
    if f.captures_above:
        problems.append(f"{f.captures_above} capture(s) above their hold")
    if f.captures_after_release:
        problems.append(f"{f.captures_after_release} capture(s) after the hold was released")
    if f.open_holds:
        problems.append(f"a hold of {f.held} left open")
    if f.charges > 1:
        problems.append(f"charged {f.charges} times")
    if f.net < 0:
        problems.append(f"refunded {f.refunded} but took only {f.taken}")
    elif f.net > 0 and not f.booked:
        problems.append(f"charged {f.net} but not shipped")
    if f.units_held and not f.booked:
        problems.append(f"{f.units_held} unit(s) held but not shipped")
    if f.booked and f.net <= 0:
        problems.append("shipment booked but not paid")
    if f.booked and f.units_held == 0:
        problems.append("shipment booked without stock held")
    if f.booked and f.unshipped_parcels:
        problems.append(f"stock held in {f.unshipped_parcels} warehouse(s) that ship nothing")
    if f.booked and f.empty_shipments:
        problems.append(f"{f.empty_shipments} shipment(s) booked with no stock held")
    if f.booked and f.cancelled:
        problems.append(f"{f.booked} shipment(s) booked but {f.cancelled} cancelled")
    return f"order {order_id}: " + ("; ".join(problems) or "inconsistent")


#: Recorded outcome -> the state the database must be in for it.
EXPECTED_STATE = {"COMPLETED": COMPLETE, "FAILED": CLEAN, "CANCELLED": CLEAN}


def outcome_mismatches(
    engine: Engine,
    facts: dict[str, OrderFacts],
    order_prefix: str | None,
    *,
    between: tuple[str, str] | None = None,
) -> list[str]:
    """Orders whose recorded outcome disagrees with the ledger, stock and shipments."""
    query = select(orders.c.order_id, orders.c.status).where(orders.c.status.is_not(None))
    if order_prefix:
        query = query.where(orders.c.order_id.startswith(order_prefix, autoescape=True))
    if between is not None:
        query = query.where(orders.c.order_id.between(*between))
    problems = []
    with engine.connect() as conn:
        for order_id, status in conn.execute(query):
            expected = EXPECTED_STATE.get(status)
            actual = facts[order_id].state if order_id in facts else CLEAN
            if expected is not None and actual != expected:
                problems.append(
                    f"order {order_id}: recorded {status} but the database says {actual}"
                )
    return sorted(problems)


def order_chunks(
    engine: Engine, order_prefix: str | None = None, size: int = CHUNK_ORDERS
) -> Iterator[tuple[str, str]]:
    """(first, last) order ids of consecutive chunks of ``size`` orders, in id order (every
    write of the store makes its order's row first, so the rows name every order)."""
    after = ""
    where = orders.c.order_id.startswith(order_prefix, autoescape=True) if order_prefix else true()
    while True:
        with engine.connect() as conn:
            ids = list(
                conn.scalars(
                    select(orders.c.order_id)
                    .where(where, orders.c.order_id > after)
                    .order_by(orders.c.order_id)
                    .limit(size)
                )
            )
        if not ids:
            return
        yield ids[0], ids[-1]
        after = ids[-1]


def fact_chunks(
    engine: Engine, order_prefix: str | None = None, size: int = CHUNK_ORDERS
) -> Iterator[tuple[tuple[str, str], dict[str, OrderFacts]]]:
    """The facts of every order, ``size`` orders at a time (never all in memory)."""
    for between in order_chunks(engine, order_prefix, size):
        yield between, collect_facts(engine, order_prefix, between=between)


def stock_violations(engine: Engine) -> tuple[list[str], int]:
    """Shelves where initial != available + held, and the units oversold."""
    violations: list[str] = []
    oversold = 0
    with engine.connect() as conn:
        held_by_shelf: dict[tuple[str, str], int] = {
            (warehouse, sku): int(units)
            for warehouse, sku, units in conn.execute(
                select(
                    reservations.c.warehouse, reservations.c.sku, func.sum(reservations.c.quantity)
                )
                .where(reservations.c.status == "held")
                .group_by(reservations.c.warehouse, reservations.c.sku)
            )
        }
        for warehouse, sku, initial, available in conn.execute(
            select(stock.c.warehouse, stock.c.sku, stock.c.initial, stock.c.available)
        ):
            held = held_by_shelf.get((warehouse, sku), 0)
            if available < 0 or initial != available + held:
                oversold += max(0, available + held - initial, -available)
                violations.append(
                    f"stock {sku} in {warehouse}: initial {initial} != "
                    f"available {available} + held {held}"
                )
    return violations, oversold


def run_audit(
    engine: Engine, order_prefix: str | None = None, *, keep_states: bool | None = None
) -> AuditReport:
    """Check every invariant; scope per-order checks to ids starting with ``order_prefix``.

    Orders are read ``CHUNK_ORDERS`` at a time, so memory stays bounded however large the
    store (a million orders included). Stock conservation is always checked over the whole
    database. ``states`` (each order's state) is kept for a scoped audit (a batch's) or
    with ``keep_states``; a whole store's would grow with it.
    """
    if keep_states is None:
        keep_states = order_prefix is not None
    report = AuditReport(
        ok=True,
        violations=[],
        orders_checked=0,
        complete=0,
        clean=0,
        duplicate_charges=0,
        orphaned_charges=0,
        orphaned_reservations=0,
        oversold_units=0,
    )
    money = MoneyTotals()
    for between, facts in fact_chunks(engine, order_prefix):
        report.violations += [
            describe(order_id, f)
            for order_id, f in sorted(facts.items())
            if f.state == INCONSISTENT
        ]
        report.violations += outcome_mismatches(engine, facts, order_prefix, between=between)
        states = {order_id: f.state for order_id, f in facts.items()}
        report.orders_checked += len(facts)
        report.complete += sum(1 for s in states.values() if s == COMPLETE)
        report.clean += sum(1 for s in states.values() if s == CLEAN)
        report.duplicate_charges += sum(f.charges - 1 for f in facts.values() if f.charges > 1)
        report.orphaned_charges += sum(1 for f in facts.values() if f.net > 0 and not f.booked)
        report.orphaned_reservations += sum(
            1 for f in facts.values() if f.units_held > 0 and not f.booked
        )
        report.holds_left_open += sum(f.open_holds for f in facts.values())
        report.captures_above_authorization += sum(f.captures_above for f in facts.values())
        report.refunds_above_capture += sum(1 for f in facts.values() if f.net < 0)
        chunk = MoneyTotals.of(facts.values())
        for name in MoneyTotals.model_fields:
            setattr(money, name, getattr(money, name) + getattr(chunk, name))
        if keep_states:
            report.states.update(states)
    stock, report.oversold_units = stock_violations(engine)
    report.violations += stock
    report.money = money
    report.ok = not report.violations
    return report
