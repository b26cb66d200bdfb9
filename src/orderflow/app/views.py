"""What the operator console shows, read from the store (never one Temporal call per row):
pages of orders, the overview, the queue of what needs a human, the ledger."""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Row

from orderflow.domain.status import OrderStatus
from orderflow.store import Store

#: Orders per page of the console's lists.
PAGE_SIZE = 50
#: A shelf with fewer units than this is low.
LOW_STOCK = 5
#: An unfinished order whose state has not moved for this long is stuck.
STUCK_AFTER = timedelta(minutes=5)
#: The states an order passes through on its own (waiting for review, or for an operator,
#: is on purpose: those have their own queues).
MOVING = tuple(
    s.value for s in OrderStatus if not s.terminal and s is not OrderStatus.AWAITING_REVIEW
)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC datetimes; PostgreSQL aware ones."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class OrderRow(BaseModel):
    """One order in a list: who, how much, where it is, since when."""

    order_id: str
    customer_id: str = ""
    total: Decimal | None = None
    state: str
    step: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    due_at: datetime | None = None
    error_type: str = ""
    reason: str = ""

    @classmethod
    def of(cls, row: Row[Any]) -> OrderRow:
        """From a row of ``store.views.ORDER_COLUMNS``."""
        return cls(
            order_id=row.order_id,
            customer_id=row.customer_id or "",
            total=row.total,
            state=row.state or OrderStatus.RECEIVED.value,
            step=row.step or "",
            created_at=_aware(row.created_at),
            updated_at=_aware(row.updated_at),
            due_at=_aware(row.due_at),
            error_type=row.error_type or "",
            reason=row.reason or "",
        )


class OrderPage(BaseModel):
    """One page of a filtered list, newest first."""

    rows: list[OrderRow]
    matching: int
    page: int
    pages: int
    state: str | None = None
    search: str = ""


class Minute(BaseModel):
    """Orders started and finished in one minute."""

    at: datetime
    started: int = 0
    completed: int = 0
    failed: int = 0


class Shelf(BaseModel):
    """A shelf running low."""

    warehouse: str
    sku: str
    available: int


class Reconciliation(BaseModel):
    """The last reconciliation pass."""

    at: datetime | None
    orders_checked: int
    drift: int
    repaired: int
    lines: list[str] = Field(default_factory=list)


class Overview(BaseModel):
    """The shop at a glance."""

    by_state: dict[str, int]
    last_hour: dict[str, int]
    refunds: int
    refunded: Decimal
    needs_attention: int
    awaiting_review: int
    low_stock: list[Shelf]
    reconciliation: Reconciliation | None
    minutes: list[Minute]
    failures: list[tuple[str, int]]

    @property
    def total_orders(self) -> int:
        """Orders the console knows of."""
        return sum(self.by_state.values())


class HumanQueue(BaseModel):
    """Everything that waits for a person, each with the action that settles it."""

    needs_attention: list[OrderRow]
    awaiting_review: list[OrderRow]
    stuck: list[OrderRow]
    reconciliation: Reconciliation | None

    @property
    def drift(self) -> list[str]:
        """The last reconciliation's drift left unrepaired (lines)."""
        if self.reconciliation is None:
            return []
        return [line for line in self.reconciliation.lines if not line.startswith("repaired:")]

    @property
    def size(self) -> int:
        """How many things wait."""
        return (
            len(self.needs_attention)
            + len(self.awaiting_review)
            + len(self.stuck)
            + len(self.drift)
        )


class LedgerRow(BaseModel):
    """One movement of money."""

    at: datetime | None
    order_id: str
    kind: str
    amount: Decimal
    reference: str


class Ledger(BaseModel):
    """A page of the ledger, totals per day, and whether it reconciles with the orders."""

    rows: list[LedgerRow]
    matching: int
    page: int
    pages: int
    by_day: list[tuple[str, Decimal, Decimal]]
    net: Decimal
    completed: Decimal
    in_flight: Decimal
    #: The whole ledger's sum per kind (authorize, capture, void, refund, charge); only
    #: on the payments page (empty on an order's).
    totals: dict[str, Decimal] = {}

    @property
    def reconciles(self) -> bool:
        """Net money kept = the totals of completed orders + what unfinished orders hold."""
        return self.net == self.completed + self.in_flight


class Views:
    """The console's reads over the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def orders(self, *, state: str | None = None, search: str = "", page: int = 1) -> OrderPage:
        """A page of orders, newest first, filtered by state and by order or customer id."""
        page = max(1, page)
        rows, matching = self.store.order_page(
            state=state, search=search.strip(), limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
        return OrderPage(
            rows=[OrderRow.of(row) for row in rows],
            matching=matching,
            page=page,
            pages=max(1, math.ceil(matching / PAGE_SIZE)),
            state=state,
            search=search.strip(),
        )

    def overview(self, now: datetime | None = None) -> Overview:
        """Orders by state, the last hour, refunds, what waits, low stock, reconciliation."""
        now = now or datetime.now(timezone.utc)
        hour_ago = now - timedelta(hours=1)
        by_state = self.store.state_counts()
        refunds, refunded = self.store.refunds_since(hour_ago)
        return Overview(
            by_state=by_state,
            last_hour=self.store.outcomes_since(hour_ago),
            refunds=refunds,
            refunded=refunded,
            needs_attention=by_state.get(OrderStatus.NEEDS_ATTENTION.value, 0),
            awaiting_review=by_state.get(OrderStatus.AWAITING_REVIEW.value, 0),
            low_stock=[
                Shelf(warehouse=w, sku=s, available=a)
                for w, s, a in self.store.low_stock(LOW_STOCK)
            ],
            reconciliation=self._reconciliation(),
            minutes=self._minutes(now),
            failures=self.store.failures_since(hour_ago),
        )

    def _minutes(self, now: datetime) -> list[Minute]:
        start = (now - timedelta(minutes=59)).replace(second=0, microsecond=0)
        started: Counter[datetime] = Counter()
        completed: Counter[datetime] = Counter()
        failed: Counter[datetime] = Counter()
        for created, finished, status in self.store.moments_since(start):
            created, finished = _aware(created), _aware(finished)
            if created is not None and created >= start:
                started[created.replace(second=0, microsecond=0)] += 1
            if finished is not None and finished >= start:
                minute = finished.replace(second=0, microsecond=0)
                if status == OrderStatus.COMPLETED.value:
                    completed[minute] += 1
                elif status in (OrderStatus.FAILED.value, OrderStatus.CANCELLED.value):
                    failed[minute] += 1
        return [
            Minute(at=at, started=started[at], completed=completed[at], failed=failed[at])
            for at in (start + timedelta(minutes=n) for n in range(60))
        ]

    def _reconciliation(self) -> Reconciliation | None:
        last = self.store.last_reconcile()
        if last is None:
            return None
        return Reconciliation(
            at=_aware(last.at),
            orders_checked=last.orders_checked,
            drift=last.drift,
            repaired=last.repaired,
            lines=[line for line in last.lines.splitlines() if line],
        )

    def human_queue(self, now: datetime | None = None, *, limit: int = 200) -> HumanQueue:
        """NEEDS_ATTENTION orders, orders awaiting review, stuck orders, reconciliation drift."""
        now = now or datetime.now(timezone.utc)
        return HumanQueue(
            needs_attention=[
                OrderRow.of(r)
                for r in self.store.orders_in([OrderStatus.NEEDS_ATTENTION.value], limit=limit)
            ],
            awaiting_review=[
                OrderRow.of(r)
                for r in self.store.orders_in([OrderStatus.AWAITING_REVIEW.value], limit=limit)
            ],
            stuck=[
                OrderRow.of(r)
                for r in self.store.stuck(now - STUCK_AFTER, moving=MOVING, limit=limit)
            ],
            reconciliation=self._reconciliation(),
        )

    def ledger(
        self,
        *,
        page: int = 1,
        order_id: str | None = None,
        days: int = 14,
        totals: bool = False,
    ) -> Ledger:
        """A page of the ledger (one order's rows with ``order_id``), totals per day, check."""
        page = max(1, page)
        rows, matching = self.store.ledger_page(
            limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, order_id=order_id
        )
        net, completed, in_flight = self.store.money_check()
        return Ledger(
            rows=[
                LedgerRow(
                    at=_aware(r.created_at),
                    order_id=r.order_id,
                    kind=r.kind,
                    amount=r.amount,
                    reference=r.reference,
                )
                for r in rows
            ],
            matching=matching,
            page=page,
            pages=max(1, math.ceil(matching / PAGE_SIZE)),
            by_day=self.store.ledger_by_day(
                since=(datetime.now(timezone.utc) - timedelta(days=days)).replace(
                    hour=0, minute=0, second=0, microsecond=0
                )
            ),
            net=net,
            completed=completed,
            in_flight=in_flight,
            totals=self.store.ledger_totals() if totals else {},
        )
