"""Reconciliation: compare the ledger, reservations and shipments with recorded outcomes.

Reports every drift and, where it is safe, repairs it:
- an order recorded FAILED or CANCELLED that still holds money (a hold or a capture),
  stock or a booked shipment is voided and refunded / released / cancelled (each repair is
  the saga's own idempotent step);
- an order recorded COMPLETED that is not complete is only reported (a person decides);
- an order that touched the outside world long ago but has no outcome is reported;
- stock that is not conserved is reported.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pydantic import BaseModel, Field
from sqlalchemy import select

from orderflow.store.audit import CLEAN, COMPLETE, fact_chunks, stock_violations
from orderflow.store.db import display_url
from orderflow.store.repository import Store, idempotency_key
from orderflow.store.tables import orders


class ReconcileReport(BaseModel):
    """What the reconciliation found and did."""

    orders_checked: int = 0
    #: The database this pass checked (its URL without password).
    store: str = ""
    drift: list[str] = Field(default_factory=list)
    repaired: list[str] = Field(default_factory=list)

    @property
    def clean(self) -> bool:
        """No drift left unrepaired."""
        return len(self.drift) == len(self.repaired)


def reconcile(store: Store, *, repair: bool, stale_after_s: float = 3600.0) -> ReconcileReport:
    """Find drift between order outcomes and the database; repair what is safe if asked."""
    report = ReconcileReport(orders_checked=0, store=display_url(store.engine.url))
    now = datetime.now(timezone.utc)
    # A chunk of orders at a time: memory stays bounded however large the store.
    for between, facts in fact_chunks(store.engine):
        report.orders_checked += len(facts)
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(orders.c.order_id, orders.c.status, orders.c.created_at).where(
                    orders.c.order_id.between(*between)
                )
            ).all()
        for order_id, status, created_at in rows:
            state = facts[order_id].state if order_id in facts else CLEAN
            if status is None:
                created = (
                    created_at if created_at.tzinfo else created_at.replace(tzinfo=timezone.utc)
                )
                if state != CLEAN and now - created > timedelta(seconds=stale_after_s):
                    report.drift.append(
                        f"order {order_id}: no outcome recorded, database says {state}"
                    )
                continue
            if status == "COMPLETED" and state != COMPLETE:
                report.drift.append(
                    f"order {order_id}: recorded COMPLETED but database says {state}"
                )
            elif status in ("FAILED", "CANCELLED") and state != CLEAN:
                report.drift.append(
                    f"order {order_id}: recorded {status} but database says {state}"
                )
                if repair:
                    report.repaired.append(_repair(store, order_id))
    report.drift += stock_violations(store.engine)[0]
    store.record_reconcile(report.orders_checked, report.drift, report.repaired)
    return report


def _repair(store: Store, order_id: str) -> str:
    """Undo what a failed order still holds, with the saga's idempotent steps."""
    shipments = store.cancel_shipment(order_id)
    stock = store.release(order_id)
    void = store.void(order_id, idempotency_key(order_id, "void"))
    refund = store.refund(order_id, idempotency_key(order_id, "refund"))
    return (
        f"order {order_id}: cancelled {shipments.cancelled} shipment(s), released "
        f"{stock.units} unit(s), voided {void.amount}, refunded {refund.amount}"
    )
