"""Activities: thin methods that call the services and translate their errors.

Transient service faults become retryable ``ApplicationError``s (Temporal retries them by
the workflow's RetryPolicy); business errors become non-retryable ones typed by name. Every
side effect is idempotent on (order id, step), so a retry after a lost response is safe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from orderflow.adapters.faults import ServiceUnavailable
from orderflow.adapters.simulated import InventorySystem, PaymentGateway, ShippingCarrier
from orderflow.domain.allocation import allocate
from orderflow.domain.catalog import WAREHOUSES
from orderflow.domain.errors import BusinessError, InvalidOrder
from orderflow.domain.models import (
    AfterSale,
    AfterSaleStatus,
    AllocationPlan,
    AuthorizationReceipt,
    CancelShipmentReceipt,
    CaptureReceipt,
    PaymentReceipt,
    PaymentReleaseReceipt,
    Receipt,
    RefundReceipt,
    ReleaseReceipt,
    ReservationReceipt,
    ShipmentReceipt,
    ShippingQuote,
)
from orderflow.domain.pricing import price_order
from orderflow.domain.validation import validate_order
from orderflow.store.db import display_url
from orderflow.store.drift import ReconcileReport, reconcile
from orderflow.store.repository import Store, idempotency_key
from orderflow.workflows.messages import (
    ORDER_FLOW,
    AfterSaleRequest,
    AllocateRequest,
    AuthorizeRequest,
    CaptureRequest,
    CompensationAction,
    CompensationRequest,
    ManualCompensation,
    OutcomeRequest,
    PaymentRequest,
    QuoteRequest,
    ReconcileRequest,
    ReserveRequest,
    ShipmentRequest,
    ValidateRequest,
    Validation,
)

log = logging.getLogger("orderflow.activities")
R = TypeVar("R", bound=Receipt)


def _attempt_label() -> str:
    info = activity.info()
    limit = info.retry_policy.maximum_attempts if info.retry_policy else 0
    return f"attempt {info.attempt} of {limit}" if limit else f"attempt {info.attempt}"


def _call(
    order_id: str, what: str, call: Callable[[], R], gave_up: Callable[[str], None] | None = None
) -> R:
    """Run a service call; translate its errors for Temporal and log what users watch for.

    ``gave_up`` runs with the error when the last attempt fails too (a compensation: the
    order will wait for an operator).
    """
    info = activity.info()
    try:
        receipt = call()
    except ServiceUnavailable as err:
        limit = info.retry_policy.maximum_attempts if info.retry_policy else 0
        exhausted = bool(limit) and info.attempt >= limit
        then = "retries exhausted" if exhausted else "Temporal will retry"
        if exhausted and gave_up is not None:
            gave_up(str(err))
        log.warning(
            "order %s: %s failed: %s (%s); %s",
            order_id,
            what,
            err,
            _attempt_label(),
            then,
            extra={"order_id": order_id},
        )
        raise ApplicationError(
            str(err),
            {"attempt": info.attempt, "fault": err.fault.value},
            type="ServiceUnavailable",
            # Expected noise: keep the SDK from logging a traceback for every injected fault.
            category=ApplicationErrorCategory.BENIGN,
        ) from err
    except BusinessError as err:
        log.info("order %s: %s refused: %s", order_id, what, err, extra={"order_id": order_id})
        raise ApplicationError(
            str(err),
            {"attempt": info.attempt},
            type=err.type_name,
            non_retryable=True,
            category=ApplicationErrorCategory.BENIGN,
        ) from err
    if info.attempt > 1:
        log.info(
            "order %s: %s succeeded on %s",
            order_id,
            what,
            _attempt_label(),
            extra={"order_id": order_id},
        )
        activity.metric_meter().create_counter(
            "orderflow_activity_retries", "Activity attempts beyond the first, by activity"
        ).add(info.attempt - 1, {"activity": info.activity_type})
    return receipt.model_copy(update={"attempt": info.attempt})


class OrderActivities:
    """The order's activities, bound to the store and the (simulated) services."""

    def __init__(
        self,
        store: Store,
        gateway: PaymentGateway,
        inventory: InventorySystem,
        carrier: ShippingCarrier,
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.inventory = inventory
        self.carrier = carrier
        #: The store's URL as messages show it (no password).
        self.store_url = display_url(store.engine.url)

    @activity.defn(name="validate_order")
    def validate_order(self, req: ValidateRequest) -> Validation:
        """Check the order against the catalog and the rules; price its lines; stamp the
        order flow this worker's code runs (``ORDER_FLOW``: see ``Validation``).

        First of all: the order must be meant for this worker's store (a client and a
        worker on two databases would charge in one and audit the other).
        """
        order = req.order
        if req.store_id and req.store_id != self.store.store_id:
            log.error(
                "order %s refused: it was accepted against the store %s (id %s) but this "
                "worker writes %s (id %s); point both at one database",
                order.order_id,
                req.store or "?",
                req.store_id,
                self.store_url,
                self.store.store_id,
                extra={"order_id": order.order_id},
            )
            raise ApplicationError(
                f"store mismatch: the order was accepted against {req.store or req.store_id} "
                f"but the worker writes {self.store_url}; point the client and the worker "
                "at one database (DATABASE_URL / ORDERFLOW_DATA_DIR)",
                type="StoreMismatch",
                non_retryable=True,
            )
        try:
            catalog = self.store.catalog(wanted=[item.sku for item in order.items])
            validated = validate_order(order, catalog)
        except InvalidOrder as err:
            log.info(
                "order %s: invalid: %s", order.order_id, err, extra={"order_id": order.order_id}
            )
            raise ApplicationError(
                str(err),
                {"field": err.field, "rule": err.rule},
                type=err.type_name,
                non_retryable=True,
                category=ApplicationErrorCategory.BENIGN,
            ) from err
        total = price_order(validated.lines, order.service_level).total
        waits = req.review_threshold is not None and total > req.review_threshold
        until = (
            datetime.now(timezone.utc) + timedelta(seconds=req.review_timeout_s or 0)
            if waits
            else None
        )
        self.store.note_validated(order.order_id, order.customer_id, total, review_until=until)
        return Validation(order=validated.order, lines=validated.lines, flow=ORDER_FLOW)

    @activity.defn(name="process_payment")
    def process_payment(self, req: PaymentRequest) -> PaymentReceipt:
        """Charge the customer once (idempotency key: order id + step)."""
        key = idempotency_key(req.order_id, "payment")
        return _call(
            req.order_id,
            f"charge of {req.amount}",
            lambda: self.gateway.charge(req.order_id, req.amount, req.payment_token, key),
        )

    @activity.defn(name="authorize_payment")
    def authorize_payment(self, req: AuthorizeRequest) -> AuthorizationReceipt:
        """Hold the total on the card (key: order + hold number); a re-authorization
        (``sequence`` > 1) then voids the hold it replaces."""
        again = req.sequence > 1
        key = idempotency_key(req.order_id, "authorize" + (f":{req.sequence}" if again else ""))
        receipt = _call(
            req.order_id,
            f"{'re-' if again else ''}authorization of {req.amount}",
            lambda: self.gateway.authorize(
                req.order_id,
                req.amount,
                req.payment_token,
                key,
                expires_at=req.expires_at,
                again=again,
            ),
        )
        if again and req.replaces:
            _call(
                req.order_id,
                f"void of the replaced hold {req.replaces}",
                lambda: self.gateway.void_hold(
                    req.order_id,
                    req.replaces,
                    idempotency_key(req.order_id, f"void:{req.replaces}"),
                ),
            )
        return receipt

    @activity.defn(name="capture_payment")
    def capture_payment(self, req: CaptureRequest) -> CaptureReceipt:
        """Take one parcel's share from the hold (key: order + warehouse)."""
        key = idempotency_key(req.order_id, f"capture:{req.warehouse}")
        receipt = _call(
            req.order_id,
            f"capture of {req.amount} for the parcel from {req.warehouse}",
            lambda: self.gateway.capture(req.order_id, req.authorization, req.amount, key),
        )
        return receipt.model_copy(update={"warehouse": req.warehouse})

    @activity.defn(name="allocate_inventory")
    def allocate_inventory(self, req: AllocateRequest) -> AllocationPlan:
        """Plan which warehouse ships which lines, from a snapshot of availability."""

        def plan() -> AllocationPlan:
            parcels = allocate(req.lines, self.inventory.availability(), WAREHOUSES)
            return AllocationPlan(order_id=req.order_id, parcels=parcels)

        return _call(req.order_id, "stock allocation", plan)

    @activity.defn(name="reserve_inventory")
    def reserve_inventory(self, req: ReserveRequest) -> ReservationReceipt:
        """Hold every line of one warehouse's parcel, all or nothing."""
        return _call(
            req.order_id,
            f"stock reservation in {req.warehouse}",
            lambda: self.inventory.reserve(req.order_id, req.lines, req.warehouse),
        )

    @activity.defn(name="calculate_shipping")
    def calculate_shipping(self, req: QuoteRequest) -> ShippingQuote:
        """Ask the carrier for a quote for one warehouse's parcel."""
        quote = _call(
            req.order_id,
            f"shipping quote from {req.warehouse}",
            lambda: self.carrier.quote(req.order_id, req.lines, req.service_level, req.warehouse),
        )
        self.store.note_quoted(req.order_id, req.warehouse)
        return quote

    @activity.defn(name="schedule_shipment")
    def schedule_shipment(self, req: ShipmentRequest) -> ShipmentReceipt:
        """Book the shipment; returns its tracking number."""
        return _call(
            req.order_id,
            f"shipment booking from {req.quote.warehouse}",
            lambda: self.carrier.book(req.order_id, req.quote),
        )

    @activity.defn(name="record_outcome")
    def record_outcome(self, req: OutcomeRequest) -> None:
        """Write the order's final status to the database (for audit and reconciliation)."""
        self.store.record_outcome(
            req.order_id, req.status.value, req.total, req.reason, req.error_type
        )

    @activity.defn(name="record_manual_compensation")
    def record_manual_compensation(
        self, req: ManualCompensation
    ) -> RefundReceipt | ReleaseReceipt | CancelShipmentReceipt | PaymentReleaseReceipt:
        """An operator did a compensation by hand: write it to the database directly.

        The (simulated) service is bypassed on purpose: it is what kept failing.
        """
        log.warning(
            "order %s: %s recorded by hand by %s (%s)",
            req.order_id,
            req.action.value,
            req.operator or "an operator",
            req.note or "no note",
            extra={"order_id": req.order_id},
        )
        if req.action is CompensationAction.REFUND_PAYMENT:
            return self.store.refund(req.order_id, idempotency_key(req.order_id, "refund"))
        if req.action is CompensationAction.RELEASE_PAYMENT:
            voided = self.store.void(req.order_id, idempotency_key(req.order_id, "void"))
            refunded = self.store.refund(req.order_id, idempotency_key(req.order_id, "refund"))
            return PaymentReleaseReceipt(
                order_id=req.order_id, refunded=refunded.amount, voided=voided.amount
            )
        if req.action is CompensationAction.RELEASE_INVENTORY:
            return self.store.release(req.order_id)
        return self.store.cancel_shipment(req.order_id)

    @activity.defn(name="reconcile")
    def reconcile(self, req: ReconcileRequest) -> ReconcileReport:
        """Compare outcomes with the ledger, stock and shipments; repair what is safe."""
        return reconcile(self.store, repair=req.repair, stale_after_s=req.stale_after_s)

    # -- compensations ----------------------------------------------------------------------

    @activity.defn(name="refund_payment")
    def refund_payment(self, req: CompensationRequest) -> RefundReceipt:
        """Compensation: refund what was charged (nothing if nothing was)."""
        key = idempotency_key(req.order_id, "refund")
        return _call(
            req.order_id,
            "refund",
            lambda: self.gateway.refund(req.order_id, key),
            self._parks(req.order_id, "refund_payment"),
        )

    @activity.defn(name="release_payment")
    def release_payment(self, req: CompensationRequest) -> PaymentReleaseReceipt:
        """Compensation: void what the card still holds, and refund exactly what was
        captured (nothing, before the first parcel shipped)."""
        parks = self._parks(req.order_id, "release_payment")
        # A retry skips what an earlier attempt already did (its answer may have been lost):
        # each gateway call can fail, and doing both again every attempt halves the odds.
        voided = self.store.released(req.order_id) or _call(
            req.order_id,
            "void",
            lambda: self.gateway.void(req.order_id, idempotency_key(req.order_id, "void")),
            parks,
        )
        refund_key = idempotency_key(req.order_id, "refund")
        done = self.store.recorded_amount(refund_key)
        refunded = (
            RefundReceipt(order_id=req.order_id, amount=done)
            if done is not None
            else _call(
                req.order_id,
                "refund",
                lambda: self.gateway.refund(req.order_id, refund_key),
                parks,
            )
        )
        return PaymentReleaseReceipt(
            order_id=req.order_id,
            refunded=refunded.amount,
            voided=voided.amount,
            attempt=activity.info().attempt,
        )

    @activity.defn(name="release_inventory")
    def release_inventory(self, req: CompensationRequest) -> ReleaseReceipt:
        """Compensation: put held stock back on the shelf."""
        return _call(
            req.order_id,
            "stock release",
            lambda: self.inventory.release(req.order_id),
            self._parks(req.order_id, "release_inventory"),
        )

    @activity.defn(name="cancel_shipment")
    def cancel_shipment(self, req: CompensationRequest) -> CancelShipmentReceipt:
        """Compensation: cancel a booked shipment."""
        return _call(
            req.order_id,
            "shipment cancellation",
            lambda: self.carrier.cancel(req.order_id),
            self._parks(req.order_id, "cancel_shipment"),
        )

    # -- after delivery ---------------------------------------------------------------------

    @activity.defn(name="refund_after_sale")
    def refund_after_sale(self, req: AfterSaleRequest) -> AfterSale:
        """Pay out a refund or a return's refund once (key: order + refund id), then mark
        it refunded."""
        sale = req.sale
        what = f"{sale.kind.value} {sale.return_id}"
        refunded = _call(
            sale.order_id,
            f"refund of {sale.amount} ({what})",
            lambda: self.gateway.refund_amount(
                sale.order_id,
                sale.amount,
                idempotency_key(sale.order_id, f"refund:{sale.return_id}"),
                note=f"{what}: {sale.reason}",
            ),
        )
        return self.store.set_after_sale(
            sale.return_id, AfterSaleStatus.REFUNDED, amount=refunded.amount
        )

    @activity.defn(name="restock_return")
    def restock_return(self, req: AfterSaleRequest) -> AfterSale:
        """A return's items arrived: put its units back on the shelves they shipped from
        (once per return)."""
        sale = req.sale
        units = self.store.restock_return(sale.order_id, sale.return_id, sale.lines)
        log.info(
            "order %s: return %s received (%s); %d unit(s) back on the shelf",
            sale.order_id,
            sale.return_id,
            req.note or "received",
            units,
            extra={"order_id": sale.order_id},
        )
        found = self.store.after_sale(sale.return_id)
        if found is None:  # pragma: no cover - the row is written before the workflow starts
            raise ApplicationError(f"no return {sale.return_id}", non_retryable=True)
        return found

    @activity.defn(name="close_after_sale")
    def close_after_sale(self, req: AfterSaleRequest) -> AfterSale:
        """A refund or return ended without money moving: expired, or the refund failed."""
        status = req.status or AfterSaleStatus.FAILED
        log.warning(
            "order %s: %s %s %s: %s",
            req.sale.order_id,
            req.sale.kind.value,
            req.sale.return_id,
            status.value,
            req.note,
            extra={"order_id": req.sale.order_id},
        )
        return self.store.set_after_sale(req.sale.return_id, status, note=req.note)

    def _parks(self, order_id: str, action: str) -> Callable[[str], None]:
        """What a compensation that gave up leaves in the read model: NEEDS_ATTENTION, and
        why."""
        return lambda error: self.store.note_needs_attention(order_id, action, error)

    def all(self) -> list[Callable[..., object]]:
        """Every activity, for worker registration."""
        return [
            self.validate_order,
            self.process_payment,
            self.authorize_payment,
            self.capture_payment,
            self.allocate_inventory,
            self.reserve_inventory,
            self.calculate_shipping,
            self.schedule_shipment,
            self.refund_payment,
            self.release_payment,
            self.release_inventory,
            self.cancel_shipment,
            self.record_outcome,
            self.record_manual_compensation,
            self.reconcile,
            self.refund_after_sale,
            self.restock_return,
            self.close_after_sale,
        ]
