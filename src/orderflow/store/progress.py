"""The console's read model, written as the order goes: one row per order in ``orders``.

The activities keep it current (most of it in the same transaction as the step's effect,
see ``records.Records._note``), so the console's lists and counts read one indexed table
instead of asking Temporal about every order.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, select, text

from orderflow.store.records import Records
from orderflow.store.tables import orders, reconcile_runs

#: A new order's row (RECEIVED); an existing one only gains its customer if it had none.
#: Plain SQL, the same on SQLite and PostgreSQL: SQLAlchemy would compile its dialects'
#: ``ON CONFLICT`` form again at every use.
_RECEIVED = text(
    "INSERT INTO orders (order_id, customer_id, state, refunded, released, shipment_cancelled) "
    "VALUES (:order_id, :customer_id, 'RECEIVED', FALSE, FALSE, FALSE) "
    "ON CONFLICT (order_id) DO UPDATE SET customer_id = excluded.customer_id "
    "WHERE orders.customer_id IS NULL"
)


class OrderProgress(Records):
    """Where each order is, for the operator console."""

    def order_row(self, order_id: str) -> Row[Any] | None:
        """The order's read-model row (state, step, customer, total, ...), if it has one."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(
                    orders.c.order_id,
                    orders.c.state,
                    orders.c.step,
                    orders.c.customer_id,
                    orders.c.total,
                    orders.c.created_at,
                    orders.c.updated_at,
                    orders.c.due_at,
                    orders.c.error_type,
                    orders.c.reason,
                ).where(orders.c.order_id == order_id)
            ).first()

    def note_received(self, order_id: str, customer_id: str) -> None:
        """The door started the order (it shows before any worker took it)."""
        with self._tx() as conn:
            conn.execute(_RECEIVED, {"order_id": order_id, "customer_id": customer_id[:200]})

    def note_validated(
        self,
        order_id: str,
        customer_id: str,
        total: Decimal,
        *,
        review_until: datetime | None = None,
    ) -> None:
        """The order is valid and priced; ``review_until``: it now waits for a reviewer."""
        with self._tx() as conn:
            self._note(
                conn,
                order_id,
                "AWAITING_REVIEW" if review_until else "VALIDATED",
                "review" if review_until else "validate",
                customer_id=customer_id[:200],
                total=total,
                due_at=review_until,
            )

    def note_quoted(self, order_id: str, warehouse: str) -> None:
        """A parcel's shipping was quoted."""
        with self._tx() as conn:
            self._note(conn, order_id, "SHIPPING_QUOTED", f"shipping_quote:{warehouse}")

    def note_needs_attention(self, order_id: str, action: str, error: str = "") -> None:
        """A compensation gave up (``error``: its last failure): the order will wait for an
        operator."""
        with self._tx() as conn:
            reason = f"{action} gave up: {error}" if error else f"{action} gave up"
            self._note(conn, order_id, "NEEDS_ATTENTION", action, reason=reason[:500])

    def record_reconcile(self, orders_checked: int, drift: list[str], repaired: list[str]) -> None:
        """Keep a reconciliation pass: the console shows the last one and its drift."""
        with self._tx() as conn:
            conn.execute(
                reconcile_runs.insert().values(
                    orders_checked=orders_checked,
                    drift=len(drift),
                    repaired=len(repaired),
                    lines="\n".join([*drift, *(f"repaired: {line}" for line in repaired)])[
                        :100_000
                    ],
                )
            )
