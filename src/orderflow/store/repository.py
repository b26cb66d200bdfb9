"""The store: every read and write of orderflow's own state, in one object.

``Store`` implements the ports of ``orderflow.domain.ports`` (ledger, stockroom, shipment
book: one module each) and records each order's outcome; see ``records`` for the
transactions, idempotency and tombstones they share.
"""

from __future__ import annotations

import functools
import uuid
from decimal import Decimal

from sqlalchemy import bindparam, func, select, update

from orderflow.store.aftersale import SqlAfterSales
from orderflow.store.ledger import SqlLedger
from orderflow.store.progress import OrderProgress
from orderflow.store.records import idempotency_key
from orderflow.store.shipping import SqlShipmentBook
from orderflow.store.stockroom import SqlStockroom
from orderflow.store.tables import orders, store_meta
from orderflow.store.views import ConsoleViews

__all__ = ["Store", "idempotency_key"]


#: How an order ended, written once its workflow knows (the first finish time stays).
_OUTCOME = (
    update(orders)
    .where(orders.c.order_id == bindparam("outcome_order"))
    .values(
        status=bindparam("outcome", type_=orders.c.status.type),
        total=bindparam("outcome_total", type_=orders.c.total.type),
        reason=bindparam("outcome_reason", type_=orders.c.reason.type),
        finished_at=func.coalesce(orders.c.finished_at, func.now()),
        error_type=bindparam("outcome_error", type_=orders.c.error_type.type),
    )
)


class Store(SqlLedger, SqlStockroom, SqlShipmentBook, SqlAfterSales, OrderProgress, ConsoleViews):
    """All reads and writes of orderflow's own state (the SQL implementation of the ports)."""

    def create_schema(self) -> None:
        """Bring the schema up to date by the migrations (idempotent): ``schema.upgrade``."""
        from orderflow.store import schema  # imported late: Alembic only when it is needed

        schema.upgrade(self.engine)

    @functools.cached_property
    def store_id(self) -> str:
        """This database's identity, made the first time it is asked for (idempotent).

        Orders carry their client's store id; a worker refuses an order meant for another
        store (two processes pointed at two databases by mistake).
        """
        with self._tx() as conn:
            conn.execute(
                self._insert_missing(
                    conn, store_meta, {"key": "store_id", "value": uuid.uuid4().hex}
                )
            )
            value = conn.scalar(select(store_meta.c.value).where(store_meta.c.key == "store_id"))
        return str(value)

    def record_outcome(
        self,
        order_id: str,
        status: str,
        total: Decimal | None,
        reason: str,
        error_type: str = "",
    ) -> None:
        """Record how the order ended (idempotent: the last word wins, same values); the
        read model's state becomes the outcome."""
        with self._tx() as conn:
            self._lock_order(conn, order_id)
            conn.execute(
                _OUTCOME,
                {
                    "outcome_order": order_id,
                    "outcome": status,
                    "outcome_total": total,
                    "outcome_reason": reason[:500],
                    "outcome_error": error_type[:64] or None,
                },
            )
            self._note(conn, order_id, status, "", locked=True)

    def outcomes(self) -> dict[str, str]:
        """Recorded final status per order (orders still running are absent)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(orders.c.order_id, orders.c.status).where(orders.c.status.is_not(None))
            )
            return {order_id: status for order_id, status in rows}
