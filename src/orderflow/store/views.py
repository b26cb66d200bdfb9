"""What the operator console reads: the read model, the ledger and the shelves, in queries
that stay fast with many orders (indexed filters, counts grouped in the database, pages).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, func, or_, select, true

from orderflow.store.records import CAPTURE, CHARGE, REFUND, Records
from orderflow.store.tables import orders, payments, reconcile_runs, stock

#: The columns of an order's row in the console's lists.
ORDER_COLUMNS = (
    orders.c.order_id,
    orders.c.customer_id,
    orders.c.total,
    orders.c.state,
    orders.c.step,
    orders.c.created_at,
    orders.c.updated_at,
    orders.c.due_at,
    orders.c.error_type,
    orders.c.reason,
)


def _after_prefix(prefix: str) -> str:
    """The smallest string greater than every string that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class ConsoleViews(Records):
    """Read-only queries of the console."""

    def order_page(
        self, *, state: str | None, search: str, limit: int, offset: int
    ) -> tuple[list[Row[Any]], int]:
        """Orders newest first, filtered by state and by an order id prefix or a customer
        id; the page and the number of orders that match."""
        where = self._order_filter(state, search)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*ORDER_COLUMNS)
                .where(where)
                .order_by(orders.c.created_at.desc(), orders.c.order_id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            total = conn.scalar(select(func.count()).select_from(orders).where(where)) or 0
        return list(rows), int(total)

    @staticmethod
    def _order_filter(state: str | None, search: str) -> ColumnElement[bool]:
        where: ColumnElement[bool] = orders.c.state.is_not(None)
        if state:
            where = and_(where, orders.c.state == state)
        if search:
            # A prefix as a range (the primary key's index serves it; LIKE would not on
            # SQLite), or a customer id (its own index).
            where = and_(
                where,
                or_(
                    and_(orders.c.order_id >= search, orders.c.order_id < _after_prefix(search)),
                    orders.c.customer_id == search,
                ),
            )
        return where

    def orders_in(self, states: Sequence[str], *, limit: int) -> list[Row[Any]]:
        """Orders in any of ``states``, oldest change first (what waits longest comes first)."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(*ORDER_COLUMNS)
                    .where(orders.c.state.in_(states))
                    .order_by(orders.c.updated_at, orders.c.order_id)
                    .limit(limit)
                ).all()
            )

    def stuck(self, before: datetime, *, moving: Sequence[str], limit: int) -> list[Row[Any]]:
        """Orders in one of the ``moving`` states whose state has not changed since
        ``before`` (the state index narrows them to the few unfinished ones)."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(*ORDER_COLUMNS)
                    .where(orders.c.state.in_(moving), orders.c.updated_at < before)
                    .order_by(orders.c.updated_at)
                    .limit(limit)
                ).all()
            )

    def state_counts(self) -> dict[str, int]:
        """Orders per state."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(orders.c.state, func.count())
                .where(orders.c.state.is_not(None))
                .group_by(orders.c.state)
            )
            return {state: int(count) for state, count in rows}

    def outcomes_since(self, since: datetime) -> dict[str, int]:
        """Orders finished since ``since``, per outcome."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(orders.c.status, func.count())
                .where(orders.c.finished_at >= since, orders.c.status.is_not(None))
                .group_by(orders.c.status)
            )
            return {status: int(count) for status, count in rows}

    def failures_since(self, since: datetime) -> list[tuple[str, int]]:
        """Failed orders since ``since`` by the failure's type, most first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(func.coalesce(orders.c.error_type, "unknown"), func.count())
                .where(orders.c.finished_at >= since, orders.c.status == "FAILED")
                .group_by(func.coalesce(orders.c.error_type, "unknown"))
            )
            return sorted(((kind, int(n)) for kind, n in rows), key=lambda kv: (-kv[1], kv[0]))

    def moments_since(self, since: datetime, *, limit: int = 50_000) -> list[Row[Any]]:
        """(created_at, finished_at, status) of orders created or finished since ``since``."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(orders.c.created_at, orders.c.finished_at, orders.c.status)
                    .where(or_(orders.c.created_at >= since, orders.c.finished_at >= since))
                    .limit(limit)
                ).all()
            )

    def refunds_since(self, since: datetime) -> tuple[int, Decimal]:
        """Refunds of real money since ``since``: how many, how much."""
        with self.engine.connect() as conn:
            count, total = conn.execute(
                select(func.count(), func.sum(payments.c.amount)).where(
                    payments.c.kind == REFUND, payments.c.created_at >= since
                )
            ).one()
        return int(count), total if total is not None else Decimal("0.00")

    def low_stock(self, below: int) -> list[Row[Any]]:
        """Shelves with fewer than ``below`` units available."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(stock.c.warehouse, stock.c.sku, stock.c.available)
                    .where(stock.c.available < below)
                    .order_by(stock.c.available, stock.c.sku)
                ).all()
            )

    def last_reconcile(self) -> Row[Any] | None:
        """The newest reconciliation pass."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(reconcile_runs).order_by(reconcile_runs.c.id.desc()).limit(1)
            ).first()

    def ledger_page(
        self, *, limit: int, offset: int, order_id: str | None = None
    ) -> tuple[list[Row[Any]], int]:
        """Ledger rows newest first (one order's when ``order_id``), and how many there are."""
        where = payments.c.order_id == order_id if order_id else true()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    payments.c.created_at,
                    payments.c.order_id,
                    payments.c.kind,
                    payments.c.amount,
                    payments.c.reference,
                )
                .where(where)
                .order_by(payments.c.created_at.desc(), payments.c.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            total = conn.scalar(select(func.count()).select_from(payments).where(where)) or 0
        return list(rows), int(total)

    def ledger_by_day(self, *, since: datetime) -> list[tuple[str, Decimal, Decimal]]:
        """(day, taken, refunded) for each day since ``since`` that has ledger rows; taken:
        captured (and charged, the old way). Holds and voids move no money."""
        day = func.date(payments.c.created_at)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(day, payments.c.kind, func.sum(payments.c.amount))
                .where(payments.c.created_at >= since)
                .group_by(day, payments.c.kind)
                .order_by(day.desc())
            ).all()
        per_day: dict[str, dict[str, Decimal]] = {}
        for when, kind, amount in rows:
            per_day.setdefault(str(when), {})[kind] = amount
        ordered = sorted(per_day.items(), reverse=True)
        zero = Decimal("0.00")
        return [
            (d, k.get(CHARGE, zero) + k.get(CAPTURE, zero), k.get(REFUND, zero)) for d, k in ordered
        ]

    def ledger_totals(self) -> dict[str, Decimal]:
        """The whole ledger's sum per kind (authorize, capture, void, refund, charge)."""
        with self.engine.connect() as conn:
            return {
                kind: amount
                for kind, amount in conn.execute(
                    select(payments.c.kind, func.sum(payments.c.amount)).group_by(payments.c.kind)
                )
            }

    def money_check(self) -> tuple[Decimal, Decimal, Decimal]:
        """(ledger net: taken - refunded, what COMPLETED orders kept (their totals less their
        refunds after delivery), net taken by orders not finished yet): the ledger
        reconciles when net = completed + in flight. Taken: captured and charged."""
        with self.engine.connect() as conn:
            per_kind: dict[str, Decimal] = {
                kind: amount
                for kind, amount in conn.execute(
                    select(payments.c.kind, func.sum(payments.c.amount)).group_by(payments.c.kind)
                )
            }
            completed = conn.scalar(
                select(func.sum(orders.c.total)).where(orders.c.status == "COMPLETED")
            )
            done = select(orders.c.order_id).where(orders.c.status == "COMPLETED")
            after_delivery = conn.scalar(
                select(func.sum(payments.c.amount)).where(
                    payments.c.kind == REFUND, payments.c.order_id.in_(done)
                )
            )
            open_orders = select(orders.c.order_id).where(orders.c.status.is_(None))
            in_flight: dict[str, Decimal] = {
                kind: amount
                for kind, amount in conn.execute(
                    select(payments.c.kind, func.sum(payments.c.amount))
                    .where(payments.c.order_id.in_(open_orders))
                    .group_by(payments.c.kind)
                )
            }
        zero = Decimal("0.00")

        def taken(kinds: dict[str, Decimal]) -> Decimal:
            return kinds.get(CHARGE, zero) + kinds.get(CAPTURE, zero) - kinds.get(REFUND, zero)

        kept = (completed or zero) - (after_delivery or zero)
        return taken(per_kind), kept, taken(in_flight)
