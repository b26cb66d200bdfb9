"""Refunds and returns after delivery: one row each in ``returns``, and the restock of a
return's units.

The row is written before its workflow starts, in one transaction that locks the order: two
requests for the same units cannot both pass the check that they were delivered and not
yet given back. The money rules (at most what the order kept) are the ledger's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select, update

from orderflow.domain.models import (
    AfterSale,
    AfterSaleKind,
    AfterSaleStatus,
    ReservedLine,
)
from orderflow.store.ledger import ZERO, SqlLedger, aware
from orderflow.store.records import Records
from orderflow.store.tables import Money, reservations, returns, stock

#: Statuses whose units count as given back (or on their way back).
_CLAIMING = tuple(
    s.value for s in AfterSaleStatus if s not in (AfterSaleStatus.EXPIRED, AfterSaleStatus.FAILED)
)


class AfterSaleConflict(ValueError):
    """The request cannot be recorded: its id was used for another, or its units were
    already given back."""


class SqlAfterSales(Records):
    """Refund and return rows; the restock of returned units."""

    def open_after_sale(
        self,
        sale: AfterSale,
        ordered: Mapping[str, int],
    ) -> tuple[AfterSale, bool]:
        """Record a refund or a return once per ``return_id``; returns it and whether it is
        new (a repeat of the same request returns the first).

        ``ordered``: units of each SKU the order delivered; its lines may claim at most what
        earlier refunds and returns (not expired or failed) left.

        Raises:
            AfterSaleConflict: the id names another request, or units were already claimed.
        """
        with self._tx() as conn:
            self._lock_order(conn, sale.order_id)
            row = (
                conn.execute(select(returns).where(returns.c.return_id == sale.return_id))
                .mappings()
                .first()
            )
            if row is not None:
                first = self._sale(row)
                same = (
                    first.order_id == sale.order_id
                    and first.kind is sale.kind
                    and first.lines == sale.lines
                    and first.amount == sale.amount
                )
                if not same:
                    raise AfterSaleConflict(
                        f"id {sale.return_id!r} is already used by another {first.kind.value} "
                        f"(of order {first.order_id})"
                    )
                return first, False
            claimed = self._claimed(conn, sale.order_id)
            for line in sale.lines:
                left = ordered.get(line.sku, 0) - claimed.get(line.sku, 0)
                if line.quantity > left:
                    raise AfterSaleConflict(
                        f"lines: {line.quantity} x {line.sku} asked, but only {left} of the "
                        f"{ordered.get(line.sku, 0)} delivered are not already refunded or "
                        "returned"
                    )
            refundable = self._refundable(conn, sale.order_id)
            if sale.amount > refundable:
                raise AfterSaleConflict(
                    f"amount: {sale.amount} asked, but the order has {refundable} left to refund"
                )
            conn.execute(
                returns.insert().values(
                    return_id=sale.return_id,
                    order_id=sale.order_id,
                    kind=sale.kind.value,
                    status=sale.status.value,
                    lines=json.dumps([line.model_dump() for line in sale.lines]),
                    reason=sale.reason[:500],
                    amount=sale.amount,
                    due_at=sale.due_at,
                    updated_at=func.now(),
                )
            )
            row = (
                conn.execute(select(returns).where(returns.c.return_id == sale.return_id))
                .mappings()
                .one()
            )
            return self._sale(row), True

    def set_after_sale(
        self,
        return_id: str,
        status: AfterSaleStatus,
        *,
        amount: Decimal | None = None,
        note: str = "",
    ) -> AfterSale:
        """Move a refund or return to ``status`` (idempotent: a settled one stays settled).

        Raises:
            KeyError: no such refund or return.
        """
        with self._tx() as conn:
            row = (
                conn.execute(
                    select(returns).where(returns.c.return_id == return_id).with_for_update()
                )
                .mappings()
                .first()
            )
            if row is None:
                raise KeyError(return_id)
            sale = self._sale(row)
            if not sale.settled:
                values: dict[str, Any] = {"status": status.value, "updated_at": func.now()}
                if amount is not None:
                    values["amount"] = amount
                if note:
                    values["note"] = note[:500]
                conn.execute(update(returns).where(returns.c.return_id == return_id).values(values))
                row = (
                    conn.execute(select(returns).where(returns.c.return_id == return_id))
                    .mappings()
                    .one()
                )
            return self._sale(row)

    def refundable(self, order_id: str) -> Decimal:
        """What the order has left to refund: what it kept, less refunds under way."""
        with self.engine.connect() as conn:
            return self._refundable(conn, order_id)

    def after_sale(self, return_id: str) -> AfterSale | None:
        """One refund or return, or None."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(returns).where(returns.c.return_id == return_id))
                .mappings()
                .first()
            )
            return self._sale(row) if row is not None else None

    def after_sales(self, order_id: str) -> list[AfterSale]:
        """The order's refunds and returns, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(returns)
                .where(returns.c.order_id == order_id)
                .order_by(returns.c.created_at, returns.c.return_id)
            ).mappings()
            return [self._sale(row) for row in rows]

    def restock_return(self, order_id: str, return_id: str, lines: Sequence[ReservedLine]) -> int:
        """Put a return's units back on the shelves they shipped from, once per return;
        returns the units put back (by this call: 0 on a repeat)."""
        with self._tx() as conn:
            self._lock_order(conn, order_id)
            row = conn.execute(
                select(returns.c.status).where(returns.c.return_id == return_id).with_for_update()
            ).first()
            if row is None or row.status != AfterSaleStatus.REQUESTED.value:
                return 0  # already received (or expired: nothing comes back)
            units = 0
            for line in lines:
                units += self._put_back(conn, order_id, line)
            conn.execute(
                update(returns)
                .where(returns.c.return_id == return_id)
                .values(status=AfterSaleStatus.RECEIVED.value, updated_at=func.now())
            )
            return units

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _put_back(conn: Connection, order_id: str, line: ReservedLine) -> int:
        """Restock ``line``'s units to the warehouses that shipped them (first first)."""
        left = line.quantity
        shipped = conn.execute(
            select(reservations.c.warehouse, reservations.c.quantity)
            .where(reservations.c.order_id == order_id, reservations.c.sku == line.sku)
            .order_by(reservations.c.warehouse)
        ).all()
        for warehouse, quantity in shipped:
            units = min(left, quantity)
            if units <= 0:
                continue
            conn.execute(
                update(stock)
                .where(stock.c.sku == line.sku, stock.c.warehouse == warehouse)
                .values(initial=stock.c.initial + units, available=stock.c.available + units)
            )
            left -= units
        return line.quantity - left

    @staticmethod
    def _refundable(conn: Connection, order_id: str) -> Decimal:
        pending: Decimal | None = conn.execute(
            select(func.sum(returns.c.amount, type_=Money)).where(
                returns.c.order_id == order_id,
                returns.c.status.in_(
                    (AfterSaleStatus.REQUESTED.value, AfterSaleStatus.RECEIVED.value)
                ),
            )
        ).scalar()
        kept = SqlLedger.money_in(conn, order_id).kept
        return kept - (pending or ZERO)

    @staticmethod
    def _claimed(conn: Connection, order_id: str) -> dict[str, int]:
        claimed: dict[str, int] = {}
        for (lines,) in conn.execute(
            select(returns.c.lines).where(
                returns.c.order_id == order_id, returns.c.status.in_(_CLAIMING)
            )
        ):
            for line in json.loads(lines):
                claimed[line["sku"]] = claimed.get(line["sku"], 0) + int(line["quantity"])
        return claimed

    @staticmethod
    def _sale(row: Any) -> AfterSale:
        due: datetime | None = aware(row["due_at"])
        return AfterSale(
            return_id=row["return_id"],
            order_id=row["order_id"],
            kind=AfterSaleKind(row["kind"]),
            status=AfterSaleStatus(row["status"]),
            lines=[ReservedLine(**line) for line in json.loads(row["lines"])],
            reason=row["reason"] or "",
            amount=row["amount"] if row["amount"] is not None else Decimal("0.00"),
            due_at=due,
            created_at=aware(row["created_at"]),
            note=row["note"] or "",
        )
