"""What every part of the store shares: the engine, units of work, the per-order lock.

Every write is one transaction (a unit of work that commits when its block ends normally
and rolls back otherwise) and idempotent: charges and refunds carry a unique idempotency
key, reservations are keyed by (order, warehouse, SKU), shipments by (order, warehouse). A
compensation leaves a tombstone on the order's row so a late retry of its step cannot act
afterwards; each write locks that row first, so a step and its compensation never
interleave.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    Table,
    Update,
    bindparam,
    func,
    select,
    text,
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


#: The order's row, created when missing. Written out because SQLAlchemy does not cache the
#: compiled form of its dialects' ``ON CONFLICT`` inserts (it would compile this one for
#: every write); this plain SQL is the same on SQLite and PostgreSQL.
_ORDER_ROW = text(
    "INSERT INTO orders (order_id, refunded, released, shipment_cancelled) "
    "VALUES (:order_id, FALSE, FALSE, FALSE) ON CONFLICT (order_id) DO NOTHING"
)
#: The order's tombstones, its row locked until the transaction ends (PostgreSQL; SQLite
#: writers hold the database's write lock from BEGIN IMMEDIATE on).
_TOMBSTONES = (
    select(orders.c.refunded, orders.c.released, orders.c.shipment_cancelled)
    .where(orders.c.order_id == bindparam("order_id"))
    .with_for_update()
)


def _may_follow(state: str, unless: tuple[str, ...]) -> ColumnElement[bool]:
    """Which current states ``state`` may replace in the read model (see ``FORWARD``)."""
    if state in FORWARD:
        return orders.c.state.is_(None) | orders.c.state.in_(
            [s for s in FORWARD if s not in unless]
        )
    if state in UNWINDING:
        return orders.c.state.is_(None) | orders.c.state.not_in(FINAL)
    return true()


@functools.cache
def note_statement(state: str, unless: tuple[str, ...], columns: tuple[str, ...]) -> Update:
    """The read model's move to ``state`` as one statement, built once per shape (so it is
    compiled once): parameters ``note_order``, ``note_step`` and ``note_<column>`` for each
    of ``columns`` (an update's parameters may not share its columns' names)."""
    values: dict[Any, Any] = {
        orders.c.state: state,
        orders.c.step: bindparam("note_step", type_=orders.c.step.type),
        orders.c.updated_at: func.now(),
    }
    for name in columns:
        column = orders.c[name]
        values[column] = bindparam(f"note_{name}", type_=column.type)
    return (
        update(orders)
        .where(orders.c.order_id == bindparam("note_order"), _may_follow(state, unless))
        .values(values)
    )


class Records:
    """The engine and the helpers every part of the store writes with."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def _insert_missing(conn: Connection, table: Table, values: dict[str, Any]) -> Any:
        """INSERT ... ON CONFLICT DO NOTHING for the connection's dialect (compiled at each
        use: for rare writes; the hot paths use prepared statements)."""
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
        locked: bool = False,
        **values: Any,
    ) -> None:
        """Move the order's read-model row to ``state`` (at ``step``), if that may follow
        its current state and it is not in ``unless``; ``values``: more columns to set
        (customer, total, ...). ``locked``: the caller holds the order's row already
        (``_lock_order``), so it exists."""
        if not locked:
            conn.execute(_ORDER_ROW, {"order_id": order_id})
        params = {f"note_{name}": value for name, value in values.items()}
        conn.execute(
            note_statement(state, unless, tuple(sorted(values))),
            {"note_order": order_id, "note_step": step[:64], **params},
        )

    def _lock_order(self, conn: Connection, order_id: str) -> Row[Any]:
        """Create the order's lock row if needed, lock it until the transaction ends, return it."""
        conn.execute(_ORDER_ROW, {"order_id": order_id})
        return conn.execute(_TOMBSTONES, {"order_id": order_id}).one()
