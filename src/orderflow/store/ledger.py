"""Money: the payment ledger, one row per gateway operation, once per idempotency key.

A shop takes money in three moves: it *authorizes* the total (a hold on the card: no money
moves), *captures* each parcel's share when that parcel ships, and *voids* what it will
not capture. After a capture, only a *refund* gives money back. The gateway's rules, which
the ledger enforces under the order's row lock: a capture takes at most what its hold has
left, never after the hold was voided or lapsed; a refund gives back at most what was
taken. ``charge`` (authorize and capture at once) stays for orders taken the old way and
for the legacy processor.

The payment compensation leaves a tombstone on the order's row (``refunded``): a late
retry of an authorization, a capture or a charge cannot take money afterwards.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from orderflow.domain.errors import AlreadyCompensated, PaymentRefused
from orderflow.domain.models import (
    AuthorizationReceipt,
    CaptureReceipt,
    PaymentReceipt,
    RefundReceipt,
    VoidReceipt,
)
from orderflow.domain.ports import Ledger
from orderflow.store.records import AUTHORIZE, CAPTURE, CHARGE, REFUND, VOID, Records
from orderflow.store.tables import orders, payments

ZERO = Decimal("0.00")


def aware(moment: datetime | None) -> datetime | None:
    """``moment`` with its time zone (SQLite hands back naive UTC times)."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass
class Hold:
    """One authorization and what became of it."""

    reference: str
    amount: Decimal
    expires_at: datetime | None
    captured: Decimal = ZERO
    voided: Decimal = ZERO
    void_at: datetime | None = None

    @property
    def left(self) -> Decimal:
        """What may still be captured (before its lapse)."""
        return self.amount - self.captured - self.voided

    def lapsed(self, now: datetime) -> bool:
        """True once the hold has expired."""
        return self.expires_at is not None and now >= self.expires_at


@dataclass
class Money:
    """An order's money as the ledger has it."""

    authorized: Decimal = ZERO
    captured: Decimal = ZERO
    charged: Decimal = ZERO
    voided: Decimal = ZERO
    refunded: Decimal = ZERO
    holds: list[Hold] = field(default_factory=list)

    @property
    def taken(self) -> Decimal:
        """Money taken from the customer: captures and (old-style) charges."""
        return self.captured + self.charged

    @property
    def kept(self) -> Decimal:
        """What the shop keeps: taken minus refunded."""
        return self.taken - self.refunded

    def open_holds(self, now: datetime) -> Decimal:
        """Held on the card and neither captured, voided nor lapsed."""
        return sum((h.left for h in self.holds if not h.lapsed(now) and h.left > 0), ZERO)


#: The ledger row made under an idempotency key.
_BY_KEY = select(payments).where(payments.c.idempotency_key == bindparam("key"))
#: An order's ledger rows, oldest first (what ``money_in`` sums).
_ORDER_ROWS = (
    select(
        payments.c.kind,
        payments.c.amount,
        payments.c.reference,
        payments.c.authorization_ref,
        payments.c.expires_at,
        payments.c.created_at,
    )
    .where(payments.c.order_id == bindparam("order_id"))
    .order_by(payments.c.id)
)
#: A ledger row; the columns only some rows have (each insert names them all, so every
#: insert is one statement, compiled once).
_INSERT = payments.insert()
_OPTIONAL = ("authorization_ref", "expires_at", "note")


class SqlLedger(Records, Ledger):
    """The ledger in the ``payments`` table; the compensation's tombstone on the order's row."""

    def _existing(self, conn: Connection, key: str) -> Any:
        return conn.execute(_BY_KEY, {"key": key}).mappings().first()

    def _insert(self, conn: Connection, **values: Any) -> str:
        reference = values.pop("reference", None) or f"{values['kind'][:2]}_{uuid.uuid4().hex[:16]}"
        # Every optional column given (None when absent): one statement shape, compiled once.
        row = {name: values.get(name) for name in _OPTIONAL}
        row.update(values, reference=reference)
        conn.execute(_INSERT, row)
        return str(reference)

    # -- the old way: authorize and capture at once -------------------------------------------

    def charge(
        self, order_id: str, amount: Decimal, idempotency_key: str, *, reference_prefix: str = "ch"
    ) -> PaymentReceipt:
        """Record a charge once per idempotency key; refuse after the order was refunded."""
        with self._tx() as conn:
            flags = self._lock_order(conn, order_id)
            existing = self._existing(conn, idempotency_key)
            if existing is not None:
                return PaymentReceipt(
                    order_id=order_id, reference=existing["reference"], amount=existing["amount"]
                )
            if flags.refunded:
                raise AlreadyCompensated(f"order {order_id} was already refunded; not charging")
            reference = self._insert(
                conn,
                order_id=order_id,
                kind=CHARGE,
                amount=amount,
                idempotency_key=idempotency_key,
                reference=f"{reference_prefix}_{uuid.uuid4().hex[:16]}",
            )
            self._note(conn, order_id, "PAID", "payment", locked=True)
            return PaymentReceipt(order_id=order_id, reference=reference, amount=amount)

    def charge_references(self, order_id: str) -> list[str]:
        """The references of the order's charges and holds, oldest first."""
        with self.engine.connect() as conn:
            return list(
                conn.scalars(
                    select(payments.c.reference)
                    .where(
                        payments.c.order_id == order_id, payments.c.kind.in_((CHARGE, AUTHORIZE))
                    )
                    .order_by(payments.c.id)
                )
            )

    # -- authorize, capture, void ------------------------------------------------------------

    def authorize(
        self,
        order_id: str,
        amount: Decimal,
        idempotency_key: str,
        *,
        expires_at: datetime,
        reference_prefix: str = "au",
    ) -> AuthorizationReceipt:
        """Hold ``amount`` on the card until ``expires_at``, once per key; refused after the
        order's payment was released (a late retry)."""
        with self._tx() as conn:
            flags = self._lock_order(conn, order_id)
            existing = self._existing(conn, idempotency_key)
            if existing is not None:
                return AuthorizationReceipt(
                    order_id=order_id,
                    reference=existing["reference"],
                    amount=existing["amount"],
                    expires_at=aware(existing["expires_at"]) or expires_at,
                )
            if flags.refunded:
                raise AlreadyCompensated(
                    f"order {order_id}'s payment was already released; not authorizing"
                )
            reference = self._insert(
                conn,
                order_id=order_id,
                kind=AUTHORIZE,
                amount=amount,
                idempotency_key=idempotency_key,
                reference=f"{reference_prefix}_{uuid.uuid4().hex[:16]}",
                expires_at=expires_at,
            )
            # A risky order waits for review on its hold: the console keeps showing that.
            self._note(
                conn, order_id, "AUTHORIZED", "payment", unless=("AWAITING_REVIEW",), locked=True
            )
            return AuthorizationReceipt(
                order_id=order_id, reference=reference, amount=amount, expires_at=expires_at
            )

    def capture(
        self,
        order_id: str,
        authorization: str,
        amount: Decimal,
        idempotency_key: str,
        *,
        now: datetime | None = None,
    ) -> CaptureReceipt:
        """Take ``amount`` from the hold ``authorization``, once per key.

        Raises:
            PaymentRefused: no such hold for the order, the hold was voided or has lapsed,
                or it has less than ``amount`` left.
            AlreadyCompensated: the order's payment was released (a late retry).
        """
        now = now or datetime.now(timezone.utc)
        with self._tx() as conn:
            flags = self._lock_order(conn, order_id)
            existing = self._existing(conn, idempotency_key)
            if existing is not None:
                return CaptureReceipt(
                    order_id=order_id,
                    reference=existing["reference"],
                    authorization=existing["authorization_ref"] or authorization,
                    amount=existing["amount"],
                )
            if flags.refunded:
                raise AlreadyCompensated(
                    f"order {order_id}'s payment was already released; not capturing"
                )
            hold = next(
                (h for h in self.money_in(conn, order_id).holds if h.reference == authorization),
                None,
            )
            if hold is None:
                raise PaymentRefused(f"order {order_id} has no authorization {authorization}")
            if hold.voided > 0:
                raise PaymentRefused(f"authorization {authorization} was voided; not capturing")
            if hold.lapsed(now):
                raise PaymentRefused(f"authorization {authorization} has expired; not capturing")
            if amount > hold.left:
                raise PaymentRefused(
                    f"capture of {amount} is above what authorization {authorization} has "
                    f"left ({hold.left})"
                )
            reference = self._insert(
                conn,
                order_id=order_id,
                kind=CAPTURE,
                amount=amount,
                idempotency_key=idempotency_key,
                authorization_ref=authorization,
            )
            return CaptureReceipt(
                order_id=order_id, reference=reference, authorization=authorization, amount=amount
            )

    def void(
        self, order_id: str, idempotency_key: str, *, now: datetime | None = None
    ) -> VoidReceipt:
        """Release what every open hold of the order has left, once per key; leaves the
        tombstone (no authorization or capture after it). Lapsed holds need no void."""
        now = now or datetime.now(timezone.utc)
        with self._tx() as conn:
            flags = self._lock_order(conn, order_id)
            done = conn.execute(
                select(func.sum(payments.c.amount)).where(
                    payments.c.order_id == order_id,
                    payments.c.kind == VOID,
                    payments.c.idempotency_key.startswith(f"{idempotency_key}#", autoescape=True),
                )
            ).scalar()
            if not flags.refunded:
                conn.execute(
                    update(orders).where(orders.c.order_id == order_id).values(refunded=True)
                )
            voided = ZERO
            for hold in self.money_in(conn, order_id).holds:
                if hold.left <= 0 or hold.voided > 0 or hold.lapsed(now):
                    continue
                self._insert(
                    conn,
                    order_id=order_id,
                    kind=VOID,
                    amount=hold.left,
                    idempotency_key=f"{idempotency_key}#{hold.reference}",
                    authorization_ref=hold.reference,
                )
                voided += hold.left
            self._note(conn, order_id, "COMPENSATING", "void_payment", locked=True)
            return VoidReceipt(order_id=order_id, amount=voided + (done or ZERO))

    def void_hold(self, order_id: str, authorization: str, idempotency_key: str) -> VoidReceipt:
        """Release what one hold has left (a re-authorization replaced it), once per key; no
        tombstone: the order goes on with its new hold."""
        with self._tx() as conn:
            self._lock_order(conn, order_id)
            existing = self._existing(conn, idempotency_key)
            if existing is not None:
                return VoidReceipt(order_id=order_id, amount=existing["amount"])
            hold = next(
                (h for h in self.money_in(conn, order_id).holds if h.reference == authorization),
                None,
            )
            if hold is None or hold.left <= 0 or hold.voided > 0:
                return VoidReceipt(order_id=order_id, amount=ZERO)
            self._insert(
                conn,
                order_id=order_id,
                kind=VOID,
                amount=hold.left,
                idempotency_key=idempotency_key,
                authorization_ref=authorization,
            )
            return VoidReceipt(order_id=order_id, amount=hold.left)

    # -- refunds -----------------------------------------------------------------------------

    def refund(self, order_id: str, idempotency_key: str) -> RefundReceipt:
        """The compensation's refund: give back all the order kept, once; leaves the
        tombstone that stops a charge or a capture arriving late."""
        with self._tx() as conn:
            flags = self._lock_order(conn, order_id)
            existing = self._existing(conn, idempotency_key)
            if existing is not None:
                return RefundReceipt(order_id=order_id, amount=existing["amount"])
            if not flags.refunded:
                conn.execute(
                    update(orders).where(orders.c.order_id == order_id).values(refunded=True)
                )
            self._note(conn, order_id, "COMPENSATING", "refund_payment", locked=True)
            amount = self.money_in(conn, order_id).kept
            if amount <= 0:
                return RefundReceipt(order_id=order_id, amount=ZERO)
            self._insert(
                conn, order_id=order_id, kind=REFUND, amount=amount, idempotency_key=idempotency_key
            )
            return RefundReceipt(order_id=order_id, amount=amount)

    def refund_amount(
        self, order_id: str, amount: Decimal, idempotency_key: str, *, note: str = ""
    ) -> RefundReceipt:
        """A refund after delivery (in full or in part, with why), once per key.

        Raises:
            PaymentRefused: ``amount`` is not positive or above what the order kept.
        """
        with self._tx() as conn:
            self._lock_order(conn, order_id)
            existing = self._existing(conn, idempotency_key)
            if existing is not None:
                return RefundReceipt(order_id=order_id, amount=existing["amount"])
            kept = self.money_in(conn, order_id).kept
            if amount <= 0:
                raise PaymentRefused(f"a refund must be positive, not {amount}")
            if amount > kept:
                raise PaymentRefused(
                    f"refund of {amount} is above what order {order_id} has left to refund ({kept})"
                )
            self._insert(
                conn,
                order_id=order_id,
                kind=REFUND,
                amount=amount,
                idempotency_key=idempotency_key,
                note=note[:500] or "refund after delivery",
            )
            return RefundReceipt(order_id=order_id, amount=amount)

    # -- reading -----------------------------------------------------------------------------

    def released(self, order_id: str) -> VoidReceipt | None:
        """The order's void, if it already ran: the tombstone is set and no hold is left
        open (a retried release then need not call the gateway again)."""
        with self.engine.connect() as conn:
            tombstone = conn.scalar(select(orders.c.refunded).where(orders.c.order_id == order_id))
            if not tombstone:
                return None
            money = self.money_in(conn, order_id)
        if money.open_holds(datetime.now(timezone.utc)) > 0:
            return None
        return VoidReceipt(order_id=order_id, amount=money.voided)

    def recorded_amount(self, idempotency_key: str) -> Decimal | None:
        """The amount of the ledger row made under ``idempotency_key``, if there is one."""
        with self.engine.connect() as conn:
            return conn.scalar(
                select(payments.c.amount).where(payments.c.idempotency_key == idempotency_key)
            )

    def money_of(self, order_id: str) -> Money:
        """The order's money: held, taken, voided, refunded, per hold."""
        with self.engine.connect() as conn:
            return self.money_in(conn, order_id)

    @staticmethod
    def money_in(conn: Connection, order_id: str) -> Money:
        money = Money()
        by_ref: dict[str, Hold] = {}
        rows = conn.execute(_ORDER_ROWS, {"order_id": order_id}).all()
        for kind, amount, reference, authorization, expires_at, created_at in rows:
            if kind == AUTHORIZE:
                money.authorized += amount
                by_ref[reference] = Hold(reference, amount, aware(expires_at))
                money.holds.append(by_ref[reference])
            elif kind == CAPTURE:
                money.captured += amount
                if authorization in by_ref:
                    by_ref[authorization].captured += amount
            elif kind == VOID:
                money.voided += amount
                if authorization in by_ref:
                    by_ref[authorization].voided += amount
                    by_ref[authorization].void_at = aware(created_at)
            elif kind == CHARGE:
                money.charged += amount
            elif kind == REFUND:
                money.refunded += amount
        return money
