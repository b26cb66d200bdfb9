"""OrderWorkflow: the six steps in order, and the saga that makes failure safe.

Orchestration only: the total is pure workflow math; everything that touches the outside
world is an activity with an explicit timeout and RetryPolicy. Stock is allocated to
warehouses and reserved, quoted and shipped per warehouse in parallel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from orderflow.domain.models import (
        AuthorizationReceipt,
        CaptureReceipt,
        Order,
        OrderTotal,
        PaymentReceipt,
        PricedLine,
    )
    from orderflow.domain.pricing import order_digest, price_order, split_total
    from orderflow.domain.status import OrderStatus
    from orderflow.workflows.activities import OrderActivities
    from orderflow.workflows.messages import (
        LOCAL_STEPS,
        ORDER_FLOW,
        AllocateRequest,
        AuthorizeRequest,
        CancelRequest,
        CaptureRequest,
        CompensationAction,
        ManualCompensation,
        OrderInput,
        OrderResult,
        OrderState,
        OutcomeRequest,
        PaymentRequest,
        PricedOrder,
        PricedRequest,
        QuoteRequest,
        ReserveRequest,
        Resolution,
        ResolutionAction,
        ReviewDecision,
        ShipmentOutcome,
        ShipmentRequest,
        ShipmentStatus,
        Step,
        ValidateRequest,
        Validation,
    )
    from orderflow.workflows.observability import StatusBoard, count_outcome

# Workflow code: imported inside the sandbox (re-run per workflow, so its checks apply).
from orderflow.workflows.parcels import Parcels
from orderflow.workflows.saga import Saga, describe_error
from orderflow.workflows.steps import StepFailed, StepRunner, Stopped, run_activity

Acts = OrderActivities

#: Patch id of the change that records each order's outcome in the database (v2).
PATCH_RECORD_OUTCOME = "record-outcome"
#: Patch id of the change that parks NEEDS_ATTENTION orders for an operator (v2).
PATCH_PARK_FOR_OPERATOR = "park-for-operator"
#: Patch id of the change that ends failed and cancelled orders as failed workflows (v5), so
#: Temporal's UI shows them apart from completed ones.
PATCH_FAIL_VISIBLY = "fail-visibly"
#: Patch id of the change that takes payment as shops do (v6): authorize the total, capture
#: each parcel's share when it ships, void what does not ship; re-authorize a hold about
#: to lapse. Orders started before it charge at once and refund on failure, as they did.
PATCH_AUTHORIZE_CAPTURE = "authorize-capture"
#: The error type a failed / cancelled order's workflow ends with (the result attached).
ENDINGS = {OrderStatus.FAILED: "OrderFailed", OrderStatus.CANCELLED: "OrderCancelled"}


@workflow.defn
class OrderWorkflow:
    """One order: validate, total, charge, reserve, quote shipping, book the shipment."""

    def __init__(self) -> None:
        self._inp: OrderInput | None = None
        #: Set by a cancel request (or the review timer): the running step stops.
        self._stop_reason: str | None = None
        self._steps = StepRunner(stop_reason=lambda: self._stop_reason)
        self._parcels = Parcels()
        self._board = StatusBoard()
        self._saga: Saga | None = None
        self._validated: Validation | None = None
        self._total: OrderTotal | None = None
        self._review: ReviewDecision | None = None
        self._resolution: Resolution | None = None
        self._parked = False
        self._result: OrderResult | None = None
        #: The card's hold (orders taken by authorization), each parcel's share of the
        #: total, and the hold's keeper (it re-authorizes before the hold lapses).
        self._authorization: AuthorizationReceipt | None = None
        self._shares: dict[str, Decimal] = {}
        self._keeper: asyncio.Task[None] | None = None
        self._capturing = False
        self._reauthorizing = False
        #: The hold's number (its re-authorizations count up from 1).
        self._hold_sequence = 1
        #: The order flow this order runs on, from its validation's recorded result (0: it
        #: validated before v7, or not at all).
        self._flow = 0

    # -- messages ---------------------------------------------------------------------------

    @workflow.query
    def status(self) -> OrderState:
        """Where the order is: status, step, attempts, compensations, total, shipments."""
        return OrderState(
            order_id=self._inp.order.order_id if self._inp else "",
            status=self._status,
            step=self._steps.current,
            attempts=dict(self._steps.attempts),
            compensations=list(self._saga.records) if self._saga else [],
            total=self._total,
            reason=self._result.reason if self._result else "",
            shipments=self._parcels.all(),
            order=self._inp.order if self._inp else None,
            lines=self._validated.lines if self._validated else [],
            needs_review=self._needs_review(),
            error_type=self._result.error_type if self._result else "",
            invalid=self._result.invalid if self._result else None,
            failed_step=self._result.failed_step if self._result else "",
            owed=self._saga.failed_actions() if self._saga else [],
            authorization=self._authorization,
        )

    @workflow.update
    async def priced(self, req: PricedRequest | None = None) -> PricedOrder:
        """The validated, priced order, as soon as it is known (used with update-with-start).

        ``repeat`` tells the asking submission whether it started the order. Old callers
        sent no argument (their histories replay with ``req`` None).
        """
        await workflow.wait_condition(lambda: self._total is not None or self._result is not None)
        if self._total is None or self._validated is None:
            assert self._result is not None
            invalid = self._result.invalid
            raise ApplicationError(
                self._result.reason,
                *([invalid.model_dump()] if invalid else []),
                type=self._result.error_type or "OrderFailed",
                non_retryable=True,
            )
        inp = self._inp
        assert inp is not None
        return PricedOrder(
            order_id=self._validated.order.order_id,
            status=self._status,
            total=self._total,
            lines=self._validated.lines,
            needs_review=self._needs_review(),
            repeat=req is not None and req.submission != inp.submission,
        )

    @priced.validator
    def _validate_priced(self, req: PricedRequest | None = None) -> None:
        # A different order under a used id is refused (and leaves no trace in history).
        inp = self._inp
        if req is None or not req.digest or inp is None:
            return
        if order_digest(inp.order) != req.digest:
            raise ApplicationError(
                f"order id {inp.order.order_id!r} is already used by a different order",
                type="OrderIdConflict",
                non_retryable=True,
            )

    @workflow.update
    async def cancel(self, req: CancelRequest) -> OrderResult:
        """Cancel the order: run exactly the compensations owed; returns the final result."""
        if self._stop_reason is None:
            self._stop_reason = req.reason or "cancelled on request"
        await workflow.wait_condition(lambda: self._result is not None)
        assert self._result is not None
        return self._result

    @cancel.validator
    def _validate_cancel(self, req: CancelRequest) -> None:
        # Rejected updates leave no trace in the history.
        if not self._status.cancellable:
            if self._status in (OrderStatus.SHIPPED, OrderStatus.COMPLETED):
                raise ValueError(
                    "the shipment is already booked; the order can no longer be cancelled"
                )
            raise ValueError(f"the order is {self._status.value} and can no longer be cancelled")

    @workflow.update
    async def review(self, decision: ReviewDecision) -> OrderState:
        """Approve or reject an order waiting for review."""
        self._review = decision
        return self.status()

    @review.validator
    def _validate_review(self, decision: ReviewDecision) -> None:
        # A decision may also arrive while a risky order is being authorized, just before
        # its wait for review begins (it then does not wait).
        early = (
            self._needs_review()
            and self._review is None
            and self._stop_reason is None
            and self._status in (OrderStatus.VALIDATED, OrderStatus.AUTHORIZED)
        )
        if self._status is not OrderStatus.AWAITING_REVIEW and not early:
            raise ValueError(f"the order is {self._status.value}, not awaiting review")

    @workflow.update
    async def resolve(self, resolution: Resolution) -> OrderState:
        """An operator settles an order that NEEDS_ATTENTION: retry, or record a manual fix."""
        self._resolution = resolution
        await workflow.wait_condition(lambda: self._resolution is None)
        return self.status()

    @resolve.validator
    def _validate_resolve(self, resolution: Resolution) -> None:
        if not self._parked:
            raise ValueError(f"the order is {self._status.value}, not waiting for an operator")
        assert self._saga is not None
        still_owed = self._saga.failed_actions()
        if resolution.action is not ResolutionAction.RETRY and (
            resolution.action.settling(still_owed) is None
        ):
            settles = resolution.action.settles
            named = settles.value if settles is not None else resolution.action.value
            raise ValueError(
                f"{named} is not owed; still owed: {', '.join(a.value for a in still_owed)}"
            )

    @workflow.update
    async def settled(self) -> OrderResult:
        """Wait until the order is final or parked for an operator; return its result so far."""
        await workflow.wait_condition(lambda: self._result is not None or self._parked)
        return self._result or self._snapshot(OrderResult(order_id="", status=self._status))

    # -- the order --------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderResult:
        """Process the order.

        A failed or cancelled order is a business result (FAILED, CANCELLED), not a crash:
        its workflow ends as failed with type OrderFailed / OrderCancelled and the result
        as the failure's details, so Temporal's UI tells it from a completed one at a
        glance; ``orderflow.app.watch.result_of`` reads the result back either way.
        """
        self._inp = inp
        self._board.start(inp.options)
        self._steps.local_steps = LOCAL_STEPS[inp.options.activity_mode]
        order = inp.order
        saga = self._saga = Saga(inp.options.compensations)
        result = OrderResult(order_id=order.order_id, status=OrderStatus.RECEIVED)
        try:
            await self._process(result)
            self._set_status(OrderStatus.COMPLETED)
        except StepFailed as failed:
            result.failed_step, result.reason = failed.step, failed.reason
            result.error_type, result.invalid = failed.error_type, failed.invalid
            workflow.logger.warning("order %s failed: %s", order.order_id, failed.reason)
            await self._unwind(saga, OrderStatus.FAILED)
        except Stopped as stopped:
            result.reason = stopped.reason
            workflow.logger.warning("order %s cancelled: %s", order.order_id, stopped.reason)
            self._set_status(OrderStatus.CANCELLING)
            await self._unwind(saga, OrderStatus.CANCELLED)
        except asyncio.CancelledError:
            # Cancelled through Temporal (UI, CLI): compensate, then end as Cancelled.
            workflow.logger.warning("order %s cancelled through Temporal", order.order_id)
            result.reason = "workflow cancelled"
            self._set_status(OrderStatus.CANCELLING)
            await self._unwind(saga, OrderStatus.CANCELLED)
            self._finish(result, saga)
            await self._record_outcome(result, inp)
            raise
        self._finish(result, saga)
        if self._keeper is not None:
            await self._keeper  # it sees the result and ends
        await self._record_outcome(result, inp)
        await workflow.wait_condition(workflow.all_handlers_finished)
        ending = ENDINGS.get(result.status)
        if ending is not None and self._changed(PATCH_FAIL_VISIBLY):
            # A business result, shown as a failed workflow in Temporal's UI; the result
            # travels as the failure's details (clients read it back as the result).
            raise ApplicationError(
                f"order {order.order_id} {result.status.value}: {result.reason}",
                result,
                type=ending,
                non_retryable=True,
            )
        return result

    async def _record_outcome(self, result: OrderResult, inp: OrderInput) -> None:
        """Write the outcome to the database, for the audit and the reconciliation.

        Added after v1 shipped: ``workflow.patched`` keeps orders that started on the old
        code replaying exactly as they ran (they finish without this step).
        """
        if not self._changed(PATCH_RECORD_OUTCOME):
            return
        try:
            await run_activity(
                Acts.record_outcome,
                OutcomeRequest(
                    order_id=result.order_id,
                    status=result.status,
                    total=result.total.total if result.total else None,
                    reason=result.reason,
                    error_type=result.error_type,
                ),
                inp.options.compensations,
                f"record outcome {result.status.value}",
                local=self._steps.is_local(Step.OUTCOME),
            )
        except ActivityError as err:
            # The order's outcome stands; the reconciliation will report the missing row.
            workflow.logger.error(
                "order %s: could not record its outcome: %s", result.order_id, describe_error(err)
            )

    async def _process(self, result: OrderResult) -> None:
        """The six steps (allocation to warehouses before the reservation)."""
        validated = await self._validate()
        result.total = self._calculate_total(validated)
        if self._changed(PATCH_AUTHORIZE_CAPTURE):
            # As shops take money: a hold on the card now; each parcel's share is taken
            # when it ships, the rest voided. A risky order waits for review on its hold,
            # kept by a timer that re-authorizes before it lapses. (v6 kept every order's
            # hold so; from v7 an order that does not wait renews its hold, if it must,
            # before the first capture.)
            result.authorization = await self._authorize(result.total)
            if self._flow < ORDER_FLOW or self._needs_review():
                self._keeper = asyncio.ensure_future(self._keep_authorized())
            if self._needs_review():
                await self._await_review(then=OrderStatus.AUTHORIZED)
        else:
            if self._needs_review():
                await self._await_review()
            result.payment = await self._charge(result.total)
        result.shipments = await self._allocate(validated)
        await self._reserve()
        await self._quote_shipping()
        await self._schedule_shipments()

    async def _validate(self) -> Validation:
        assert self._inp is not None
        options = self._inp.options
        request = ValidateRequest(
            order=self._order,
            store_id=self._inp.store_id,
            store=self._inp.store,
            review_threshold=options.review_threshold,
            review_timeout_s=options.review_timeout_s,
        )
        validated: Validation = await self._step(
            Step.VALIDATE, Acts.validate_order, request, "validate"
        )
        self._validated = validated
        self._flow = validated.flow
        self._set_status(OrderStatus.VALIDATED)
        return validated

    def _calculate_total(self, validated: Validation) -> OrderTotal:
        self._total = price_order(validated.lines, self._order.service_level)
        return self._total

    async def _charge(self, total: OrderTotal) -> PaymentReceipt:
        order = self._order
        self._saga_or_fail().register(
            Step.PAYMENT, CompensationAction.REFUND_PAYMENT, Acts.refund_payment, order.order_id
        )
        receipt: PaymentReceipt = await self._step(
            Step.PAYMENT,
            Acts.process_payment,
            PaymentRequest(
                order_id=order.order_id, amount=total.total, payment_token=order.payment_token
            ),
            f"charge {total.total}",
        )
        self._set_status(OrderStatus.PAID)
        return receipt

    async def _authorize(self, total: OrderTotal) -> AuthorizationReceipt:
        order = self._order
        assert self._inp is not None
        self._saga_or_fail().register(
            Step.PAYMENT, CompensationAction.RELEASE_PAYMENT, Acts.release_payment, order.order_id
        )
        ttl = timedelta(seconds=self._inp.options.authorization_ttl_s)
        receipt: AuthorizationReceipt = await self._step(
            Step.PAYMENT,
            Acts.authorize_payment,
            AuthorizeRequest(
                order_id=order.order_id,
                amount=total.total,
                payment_token=order.payment_token,
                expires_at=workflow.now() + ttl,
            ),
            f"authorize {total.total}",
        )
        self._authorization = receipt
        self._set_status(OrderStatus.AUTHORIZED)
        return receipt

    async def _keep_authorized(self) -> None:
        """Re-authorize before the hold lapses, on a durable timer, while the order still
        waits (a seventh of the hold's life before it ends); a declined re-authorization
        cancels the order. Ends once the first parcel captures, or the order ends."""

        def over() -> bool:
            return self._capturing or self._result is not None or self._stop_reason is not None

        while not over():
            try:
                await workflow.wait_condition(
                    over,
                    timeout=max(self._renew_in(), timedelta(seconds=1)),
                    timeout_summary="re-authorize the card's hold before it lapses",
                )
                return
            except asyncio.TimeoutError:
                pass
            failure = await self._reauthorize()
            if failure is not None:
                if self._stop_reason is None:
                    self._stop_reason = failure
                return

    def _renew_in(self) -> timedelta:
        """How long until the hold is to be renewed: when a seventh of its life is left."""
        assert self._inp is not None and self._authorization is not None
        ttl = timedelta(seconds=self._inp.options.authorization_ttl_s)
        return self._authorization.expires_at - workflow.now() - ttl / 7

    async def _reauthorize(self) -> str | None:
        """Replace the hold by a fresh one (the activity voids the old one); None, or why
        the order must stop when the card declines."""
        assert self._inp is not None and self._authorization is not None
        inp = self._inp
        hold = self._authorization
        ttl = timedelta(seconds=inp.options.authorization_ttl_s)
        self._hold_sequence += 1
        self._reauthorizing = True
        try:
            self._authorization = await run_activity(
                Acts.authorize_payment,
                AuthorizeRequest(
                    order_id=inp.order.order_id,
                    amount=hold.amount,
                    payment_token=inp.order.payment_token,
                    expires_at=workflow.now() + ttl,
                    sequence=self._hold_sequence,
                    replaces=hold.reference,
                ),
                inp.options.steps,
                f"re-authorize {hold.amount} (the hold lapses {hold.expires_at:%Y-%m-%d})",
            )
        except ActivityError as err:
            workflow.logger.warning(
                "order %s: re-authorization failed: %s", inp.order.order_id, describe_error(err)
            )
            return (
                "the card's hold was about to lapse and re-authorization failed: "
                f"{describe_error(err)}"
            )
        finally:
            self._reauthorizing = False
        return None

    async def _allocate(self, validated: Validation) -> list[ShipmentOutcome]:
        plan = await self._step(
            Step.ALLOCATION,
            Acts.allocate_inventory,
            AllocateRequest(order_id=self._order.order_id, lines=validated.lines),
            "allocate stock to warehouses",
        )
        if self._authorization is not None and self._total is not None:
            # What each parcel captures when it ships: the total, shared by goods value.
            self._shares = split_total(
                self._total.total,
                {
                    warehouse: sum((line.amount for line in lines), Decimal("0"))
                    for warehouse, lines in plan.parcels.items()
                },
            )
        return self._parcels.plan(plan.parcels)

    async def _reserve(self) -> None:
        self._saga_or_fail().register(
            Step.INVENTORY,
            CompensationAction.RELEASE_INVENTORY,
            Acts.release_inventory,
            self._order.order_id,
        )
        await self._parcels.each(ShipmentStatus.RESERVED, self._reserve_parcel)
        self._set_status(OrderStatus.RESERVED)

    async def _quote_shipping(self) -> None:
        await self._parcels.each(ShipmentStatus.QUOTED, self._quote_parcel)
        self._set_status(OrderStatus.SHIPPING_QUOTED)

    async def _schedule_shipments(self) -> None:
        self._saga_or_fail().register(
            Step.SHIPMENT,
            CompensationAction.CANCEL_SHIPMENT,
            Acts.cancel_shipment,
            self._order.order_id,
        )
        if self._authorization is not None:
            # From the first capture on, the hold is what it is: no re-authorization.
            self._capturing = True
            await workflow.wait_condition(lambda: not self._reauthorizing)
            if self._flow >= ORDER_FLOW and self._renew_in() <= timedelta(0):
                # No timer kept this hold (the order waited for nobody), yet it took long
                # enough to near the hold's lapse (a worker was down): renew it first.
                failure = await self._reauthorize()
                if failure is not None:
                    raise Stopped(self._stop_reason or failure)
        await self._parcels.each(ShipmentStatus.BOOKED, self._book_parcel)

    # -- one warehouse's parcel -------------------------------------------------------------

    async def _reserve_parcel(self, warehouse: str, lines: list[PricedLine]) -> None:
        await self._step(
            Step.INVENTORY,
            Acts.reserve_inventory,
            ReserveRequest(order_id=self._order.order_id, lines=lines, warehouse=warehouse),
            f"reserve {sum(line.quantity for line in lines)} unit(s) in {warehouse}",
            warehouse=warehouse,
        )

    async def _quote_parcel(self, warehouse: str, lines: list[PricedLine]) -> None:
        order = self._order
        self._parcels[warehouse].quote = await self._step(
            Step.SHIPPING_QUOTE,
            Acts.calculate_shipping,
            QuoteRequest(
                order_id=order.order_id,
                lines=lines,
                service_level=order.service_level,
                warehouse=warehouse,
            ),
            f"quote {order.service_level.value} shipping from {warehouse}",
            warehouse=warehouse,
        )

    async def _book_parcel(self, warehouse: str, _lines: list[PricedLine]) -> None:
        quote = self._parcels[warehouse].quote
        assert quote is not None
        receipt = await self._step(
            Step.SHIPMENT,
            Acts.schedule_shipment,
            ShipmentRequest(order_id=self._order.order_id, quote=quote),
            f"book shipment from {warehouse}",
            warehouse=warehouse,
        )
        self._parcels[warehouse].tracking_number = receipt.tracking_number
        hold = self._authorization
        if hold is not None:
            share = self._shares[warehouse]
            captured: CaptureReceipt = await self._step(
                Step.CAPTURE,
                Acts.capture_payment,
                CaptureRequest(
                    order_id=self._order.order_id,
                    authorization=hold.reference,
                    amount=share,
                    warehouse=warehouse,
                ),
                f"capture {share} for the parcel from {warehouse}",
                warehouse=warehouse,
            )
            self._parcels[warehouse].captured = captured.amount

    async def _step(
        self,
        step: Step,
        activity: Callable[..., Awaitable[object]] | Callable[..., object],
        arg: object,
        summary: str,
        *,
        warehouse: str | None = None,
    ) -> Any:
        """One step with the order's retry options (see ``StepRunner.run``)."""
        assert self._inp is not None
        return await self._steps.run(
            step, activity, arg, self._inp.options.steps, summary, warehouse=warehouse
        )

    @property
    def _order(self) -> Order:
        assert self._inp is not None
        return self._inp.order

    def _saga_or_fail(self) -> Saga:
        assert self._saga is not None
        return self._saga

    async def _await_review(self, then: OrderStatus = OrderStatus.VALIDATED) -> None:
        assert self._inp is not None
        inp = self._inp
        self._set_status(OrderStatus.AWAITING_REVIEW)
        self._steps.current = Step.REVIEW.value
        try:
            await workflow.wait_condition(
                lambda: self._review is not None or self._stop_reason is not None,
                timeout=timedelta(seconds=inp.options.review_timeout_s),
                # Orders before v6 gave none; the console tells the review window by it.
                timeout_summary=(
                    "review window" if self._changed(PATCH_AUTHORIZE_CAPTURE) else None
                ),
            )
        except asyncio.TimeoutError:
            raise Stopped(
                f"not reviewed within {inp.options.review_timeout_s:g}s; cancelled automatically"
            ) from None
        if self._stop_reason is not None:
            raise Stopped(self._stop_reason)
        assert self._review is not None
        if not self._review.approved:
            who = f" by {self._review.reviewer}" if self._review.reviewer else ""
            raise Stopped(f"rejected in review{who}: {self._review.note or 'no reason given'}")
        self._set_status(then)

    # -- helpers ----------------------------------------------------------------------------

    def _changed(self, patch: str) -> bool:
        """Whether this order runs with the change ``patch`` brought in.

        An order of flow 7 or later runs with every change and records no marker for it
        (its flow is in its validation's recorded result); an older order asks its history,
        as it always did (``workflow.patched``: true, with a marker, on a first run).
        """
        return self._flow >= ORDER_FLOW or workflow.patched(patch)

    def _needs_review(self) -> bool:
        threshold = self._inp.options.review_threshold if self._inp else None
        return threshold is not None and self._total is not None and self._total.total > threshold

    @property
    def _status(self) -> OrderStatus:
        return self._board.status

    def _set_status(self, status: OrderStatus) -> None:
        self._board.set(status)

    async def _unwind(self, saga: Saga, final: OrderStatus) -> None:
        if self._status is not OrderStatus.CANCELLING:
            self._set_status(OrderStatus.COMPENSATING)
        if self._authorization is not None:
            self._capturing = True  # the keeper stops: the hold is released next
            await workflow.wait_condition(lambda: not self._reauthorizing)
        await saga.compensate()
        self._parcels.undone()
        if saga.failed and self._changed(PATCH_PARK_FOR_OPERATOR):
            await self._park(saga)
        self._set_status(OrderStatus.NEEDS_ATTENTION if saga.failed else final)

    async def _park(self, saga: Saga) -> None:
        """Wait, durably and visibly, until an operator has settled every owed compensation."""
        assert self._inp is not None
        order_id = self._inp.order.order_id
        while saga.failed:
            self._set_status(OrderStatus.NEEDS_ATTENTION)
            self._parked = True
            workflow.logger.error(
                "order %s NEEDS_ATTENTION: still owed %s; settle it with `orderflow resolve`",
                order_id,
                ", ".join(action.value for action in saga.failed_actions()),
            )
            await workflow.wait_condition(lambda: self._resolution is not None)
            self._parked = False
            resolution = self._resolution
            assert resolution is not None
            self._set_status(OrderStatus.COMPENSATING)
            owed = (
                None
                if resolution.action is ResolutionAction.RETRY
                else resolution.action.settling(saga.failed_actions())
            )
            if owed is None:
                await saga.retry_failed()
            else:
                await saga.resolve_manually(
                    owed,
                    Acts.record_manual_compensation,
                    ManualCompensation(
                        order_id=order_id,
                        action=owed,
                        operator=resolution.operator,
                        note=resolution.note,
                    ),
                )
            self._resolution = None

    def _snapshot(self, result: OrderResult) -> OrderResult:
        result.order_id = self._inp.order.order_id if self._inp else result.order_id
        result.status = self._status
        result.total = result.total or self._total
        result.attempts = dict(self._steps.attempts)
        result.compensations = list(self._saga.records) if self._saga else []
        result.shipments = self._parcels.all()
        result.lines = self._validated.lines if self._validated else []
        # The hold the order ended with (a renewal replaced the first one).
        result.authorization = self._authorization or result.authorization
        return result

    def _finish(self, result: OrderResult, saga: Saga) -> None:
        self._steps.current = ""
        self._result = self._snapshot(result)
        count_outcome(result)
