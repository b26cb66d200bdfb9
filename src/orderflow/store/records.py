"""What every part of the store shares: the engine, units of work, the per-order lock.

Every write is one transaction (a unit of work that commits when its block ends normally
and rolls back otherwise) and idempotent: charges and refunds carry a unique idempotency
key, reservations are keyed by (order, warehouse, SKU), shipments by (order, warehouse). A
compensation leaves a tombstone on the order's row so a late retry of its step cannot act
afterwards; each write locks that row first, so a step and its compensation never
interleave.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    Table,
    func,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from orderflow.store.tables import orders

#: The console's read model: which state may follow which. A forward state never
#: overwrites an unwinding or a final one (a late quote after a cancel), an unwinding one
#: never a final one (a reconciliation's repair of a FAILED order); the outcome has the
#: last word.
FORWARD = (
    "RECEIVED",
    "VALIDATED",
    "AWAITING_REVIEW",
    "AUTHORIZED",
    "PAID",
    "RESERVED",
    "SHIPPING_QUOTED",
    "SHIPPED",
)
UNWINDING = ("COMPENSATING", "CANCELLING", "NEEDS_ATTENTION")
FINAL = ("COMPLETED", "FAILED", "CANCELLED")

HELD, RELEASED = "held", "released"
BOOKED, CANCELLED = "booked", "cancelled"
CHARGE, REFUND = "charge", "refund"
AUTHORIZE, CAPTURE, VOID = "authorize", "capture", "void"


def idempotency_key(order_id: str, step: str) -> str:
    """The key that makes a step's side effect happen at most once per order."""
    return f"{order_id}:{step}"


class Records:
    """The engine and the helpers every part of the store writes with."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def _insert_missing(conn: Connection, table: Table, values: dict[str, Any]) -> Any:
        """INSERT ... ON CONFLICT DO NOTHING for the connection's dialect."""
        dialect = conn.dialect.name
        if dialect == "postgresql":
            return pg_insert(table).values(**values).on_conflict_do_nothing()
        if dialect == "sqlite":
            return sqlite_insert(table).values(**values).on_conflict_do_nothing()
        raise NotImplementedError(dialect)  # pragma: no cover

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """A unit of work: commits when the block ends normally, rolls back otherwise."""
        with self.engine.begin() as conn:
            yield conn

    def _note(
        self,
        conn: Connection,
        order_id: str,
        state: str,
        step: str,
        *,
        unless: tuple[str, ...] = (),
        **values: Any,
    ) -> None:
        """Move the order's read-model row to ``state`` (at ``step``), if that may follow
        its current state and it is not in ``unless``; ``values``: more columns to set
        (customer, total, ...)."""
        conn.execute(self._insert_missing(conn, orders, {"order_id": order_id}))
        may: ColumnElement[bool] = true()
        if state in FORWARD:
            may = orders.c.state.is_(None) | orders.c.state.in_(
                [s for s in FORWARD if s not in unless]
            )
        elif state in UNWINDING:
            may = orders.c.state.is_(None) | orders.c.state.not_in(FINAL)
        conn.execute(
            update(orders)
            .where(orders.c.order_id == order_id, may)
            .values(state=state, step=step[:64], updated_at=func.now(), **values)
        )

    def _lock_order(self, conn: Connection, order_id: str) -> Row[Any]:
        """Create the order's lock row if needed, lock it until the transaction ends, return it."""
        conn.execute(self._insert_missing(conn, orders, {"order_id": order_id}))
        return conn.execute(
            select(orders.c.refunded, orders.c.released, orders.c.shipment_cancelled)
            .where(orders.c.order_id == order_id)
            .with_for_update()
        ).one()
