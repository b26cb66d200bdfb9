"""Money: the payment ledger (charges and refunds, once per idempotency key)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import Connection, func, select, update

from orderflow.domain.errors import AlreadyCompensated
from orderflow.domain.models import (
    PaymentReceipt,
    RefundReceipt,
)
from orderflow.domain.ports import Ledger
from orderflow.store.records import CHARGE, REFUND, Records
from orderflow.store.tables import orders, payments


class SqlLedger(Records, Ledger):
    """The ledger in the ``payments`` table; the refund's tombstone on the order's row."""

    def charge(
        self, order_id: str, amount: Decimal, idempotency_key: str, *, reference_prefix: str = "ch"
    ) -> PaymentReceipt:
        """Record a charge once per idempotency key; refuse after the order was refunded."""
        with self._tx() as conn:
            flags = self._lock_order(conn, order_id)
            existing = (
                conn.execute(select(payments).where(payments.c.idempotency_key == idempotency_key))
                .mappings()
                .first()
            )
            if existing is not None:
                return PaymentReceipt(
                    order_id=order_id, reference=existing["reference"], amount=existing["amount"]
                )
            if flags.refunded:
                raise AlreadyCompensated(f"order {order_id} was already refunded; not charging")
            reference = f"{reference_prefix}_{uuid.uuid4().hex[:16]}"
            conn.execute(
                payments.insert().values(
                    order_id=order_id,
                    kind=CHARGE,
                    amount=amount,
                    idempotency_key=idempotency_key,
                    reference=reference,
                )
            )
            self._note(conn, order_id, "PAID", "payment")
            return PaymentReceipt(order_id=order_id, reference=reference, amount=amount)

    def charge_references(self, order_id: str) -> list[str]:
        """The references of the order's charges, oldest first."""
        with self.engine.connect() as conn:
            return list(
                conn.scalars(
                    select(payments.c.reference)
                    .where(payments.c.order_id == order_id, payments.c.kind == CHARGE)
                    .order_by(payments.c.id)
                )
            )

    def refund(self, order_id: str, idempotency_key: str) -> RefundReceipt:
        """Refund whatever the order's charges net to, once; marks the order refunded.

        The mark is the tombstone that stops a charge arriving late (a timed-out attempt).
        """
        with self._tx() as conn:
            flags = self._lock_order(conn, order_id)
            existing = conn.execute(
                select(payments.c.amount).where(
                    payments.c.idempotency_key == idempotency_key,
                    payments.c.order_id == order_id,
                    payments.c.kind == REFUND,
                )
            ).first()
            if existing is not None:
                return RefundReceipt(order_id=order_id, amount=existing.amount)
            if not flags.refunded:
                conn.execute(
                    update(orders).where(orders.c.order_id == order_id).values(refunded=True)
                )
            self._note(conn, order_id, "COMPENSATING", "refund_payment")
            amount = self._net_charged(conn, order_id)
            if amount <= 0:
                return RefundReceipt(order_id=order_id, amount=Decimal("0.00"))
            conn.execute(
                payments.insert().values(
                    order_id=order_id,
                    kind=REFUND,
                    amount=amount,
                    idempotency_key=idempotency_key,
                    reference=f"re_{uuid.uuid4().hex[:16]}",
                )
            )
            return RefundReceipt(order_id=order_id, amount=amount)

    @staticmethod
    def _net_charged(conn: Connection, order_id: str) -> Decimal:
        def total(kind: str) -> Decimal:
            value = conn.scalar(
                select(func.sum(payments.c.amount)).where(
                    payments.c.order_id == order_id, payments.c.kind == kind
                )
            )
            return value if value is not None else Decimal("0.00")

        return total(CHARGE) - total(REFUND)
