"""The order service: what every door (CLI, API, console, demo, chaos, bench) does with
orders, in one place.

Doors only translate input into these calls and the errors of ``orderflow.app.errors``
into their answers. The rules that need no outside world run here, at the door, before any
workflow starts: an invalid order is refused naming its field and never becomes a
workflow. Orders that have finished are read from their history, so no worker is needed to
look at them; a call that waits on a running order watches it and gives up with
``NoWorker`` when nothing progresses.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import TypeVar

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from orderflow.app.aftersale import AfterSales, ReceiveCreate, RefundCreate, ReturnCreate
from orderflow.app.errors import (
    ConflictError,
    NoWorker,
    OrderFailed,
    OrderNotFound,
    OrderRejected,
    unavailable,
)
from orderflow.app.inventory import Stock, StockLevel
from orderflow.app.watch import Watchman
from orderflow.domain.errors import InvalidOrder
from orderflow.domain.models import AfterSale, Order, ValidatedOrder
from orderflow.domain.pricing import order_digest, price_order
from orderflow.domain.status import OrderStatus
from orderflow.domain.validation import ORDER_ID_PATTERN, validate_order
from orderflow.store import Store
from orderflow.store.db import display_url
from orderflow.workflows.messages import (
    CancelRequest,
    OrderInput,
    OrderMoney,
    OrderOptions,
    OrderResult,
    OrderState,
    PricedOrder,
    Resolution,
    ReviewDecision,
    StatusUpdates,
)
from orderflow.workflows.observability import ORDER_STATUS
from orderflow.workflows.order import OrderWorkflow

T = TypeVar("T")
Handle = WorkflowHandle[OrderWorkflow, OrderResult]


def workflow_id(order_id: str) -> str:
    """One workflow per order id: submitting the same order twice never starts a second saga."""
    return f"order-{order_id}"


def order_id_for_key(idempotency_key: str) -> str:
    """A stable order id for a client's Idempotency-Key (same key, same order)."""
    return "k-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


def new_order_id() -> str:
    """A fresh order id, for doors whose caller gave none."""
    return f"o-{uuid.uuid4().hex[:24]}"


def initial_search_attributes(options: OrderOptions | None) -> TypedSearchAttributes | None:
    """OrderStatus=RECEIVED from the first moment, so list filters see new orders; none in
    ``waits`` mode (an order in progress has none: its workflow is Running)."""
    if options is not None and (
        not options.status_search_attribute or options.status_updates == StatusUpdates.WAITS
    ):
        return None
    return TypedSearchAttributes([SearchAttributePair(ORDER_STATUS, OrderStatus.RECEIVED.value)])


async def start_order(
    client: Client, order: Order, task_queue: str, options: OrderOptions | None = None
) -> Handle:
    """Start the order's workflow, or return the handle of the one already started.

    The bare start, without the door's checks: workflow tests and the bench's engine
    baselines use it; doors use ``OrderService``.
    """
    try:
        return await client.start_workflow(
            OrderWorkflow.run,
            OrderInput(order=order, options=options or OrderOptions()),
            id=workflow_id(order.order_id),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=initial_search_attributes(options),
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle_for(OrderWorkflow.run, workflow_id(order.order_id))


#: An order without an OrderStatus value (``waits`` mode: it neither waits nor failed) is
#: where its workflow's status says.
UNWRITTEN: dict[WorkflowExecutionStatus | None, str] = {
    WorkflowExecutionStatus.RUNNING: OrderStatus.RECEIVED.value,
    WorkflowExecutionStatus.COMPLETED: OrderStatus.COMPLETED.value,
}


def status_query(status: OrderStatus) -> str:
    """The visibility query for orders in ``status``.

    Orders record OrderStatus as their status-updates mode says: ``waits`` (the default)
    writes none for an order in progress or completed, older orders wrote RECEIVED at the
    start and COMPLETED at the end. Both are found.
    """
    name = ORDER_STATUS.name
    if status is OrderStatus.COMPLETED:
        return f"({name} = 'COMPLETED' OR (ExecutionStatus = 'Completed' AND {name} IS NULL))"
    if status is OrderStatus.RECEIVED:
        return f"ExecutionStatus = 'Running' AND ({name} = 'RECEIVED' OR {name} IS NULL)"
    return f"{name} = '{status.value}'"


class Submission(BaseModel):
    """What a submission answers: the priced order, and whether this call started it."""

    order: PricedOrder
    new: bool


class OrderSummary(BaseModel):
    """One line of an order listing."""

    order_id: str
    status: str
    workflow_status: str


class OrderService:
    """Submit, start, inspect, wait for, cancel, review and settle orders; read and restock
    inventory."""

    def __init__(
        self,
        client: Client,
        store: Store,
        task_queue: str,
        options: OrderOptions | None = None,
        *,
        stall_after_s: float = 10.0,
        return_window_s: float = 30 * 24 * 3600,
    ) -> None:
        self.client = client
        self.store = store
        self.task_queue = task_queue
        self.options = options or OrderOptions()
        #: How long a waiting call lets an order make no progress before it says so.
        self.watch = Watchman(client, stall_after_s)
        self.stock = Stock(store)
        #: The store's URL as orders carry it (no password), worked out once.
        self._store_url = display_url(store.engine.url)
        #: Refunds and returns of delivered orders.
        self.after_sales = AfterSales(
            client,
            store,
            task_queue,
            self.watch,
            self.status,
            window_s=return_window_s,
            retries=self.options.compensations,
        )

    # -- the door's checks ------------------------------------------------------------------

    def check(self, order: Order) -> ValidatedOrder:
        """The rules that need no outside world, against the catalog: the order validated,
        its lines priced.

        Raises:
            OrderRejected: naming the first field that breaks a rule.
        """
        catalog = self.store.catalog(wanted=[item.sku for item in order.items])
        try:
            return validate_order(order, catalog)
        except InvalidOrder as err:
            raise OrderRejected.one(err.field, err.rule) from None

    def _input(self, order: Order, submission: str = "") -> OrderInput:
        return OrderInput(
            order=order,
            options=self.options,
            submission=submission,
            store_id=self.store.store_id,
            store=self._store_url,
        )

    # -- starting orders --------------------------------------------------------------------

    async def submit(self, order: Order) -> Submission:
        """Check and price the order, start it, and answer with its priced form at once.

        The answer is what the checkout shows: the order validated against the catalog and
        priced here, at the door, by the same rules and catalog its workflow applies (the
        products of a catalog never change; see ``Store.catalog``), and durably started: a
        worker takes it from there, now or whenever one runs. Submitting the same order id
        again attaches to the existing order: no second saga, and the answer says it was a
        repeat, with the order's status as it is now.

        Raises:
            OrderRejected: the order is invalid (nothing was started, charged or reserved).
            ConflictError: the order id is already used by a different order.
            OrderFailed: a repeat of an order that failed before it was priced.
            TemporalUnavailable.
        """
        priced = self.price(order, self.check(order))
        if await self._start(order):
            return Submission(order=priced, new=True)
        state = await self.status(order.order_id)
        if state.total is None and state.status.terminal:
            if state.invalid is not None:
                raise OrderRejected.one(state.invalid.field, state.invalid.rule)
            raise OrderFailed(f"the order failed before it was priced: {state.reason}", state)
        return Submission(
            order=priced.model_copy(update={"status": state.status, "repeat": True}), new=False
        )

    def price(self, order: Order, validated: ValidatedOrder) -> PricedOrder:
        """The priced order the door answers with (what the workflow's ``priced`` computes)."""
        total = price_order(validated.lines, order.service_level)
        threshold = self.options.review_threshold
        return PricedOrder(
            order_id=order.order_id,
            status=OrderStatus.RECEIVED,
            total=total,
            lines=validated.lines,
            needs_review=threshold is not None and total.total > threshold,
        )

    async def start(self, order: Order, *, eager: bool = False) -> bool:
        """Check the order and start it without waiting; False if it was already started.

        For batches (demo, chaos, bench): one call per order, no answer to wait for.
        ``eager``: ask for the first workflow task in the start's answer (only useful when
        the worker shares this client, as the bench's fastest configuration does).

        Raises:
            OrderRejected: the order is invalid (nothing was started).
            ConflictError: the id belongs to a different order.
            TemporalUnavailable.
        """
        self.check(order)
        return await self._start(order, eager=eager)

    async def _start(self, order: Order, *, eager: bool = False) -> bool:
        """Start the (checked) order; False, after making sure it is the same order, when
        its id was started already."""
        try:
            await self.client.start_workflow(
                OrderWorkflow.run,
                self._input(order),
                id=workflow_id(order.order_id),
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                search_attributes=initial_search_attributes(self.options),
                request_eager_start=eager,
            )
        except WorkflowAlreadyStartedError:
            stored = await self._stored_input(order.order_id)
            if stored is not None and order_digest(stored.order) != order_digest(order):
                raise ConflictError(_reused(order.order_id)) from None
            return False
        except RPCError as err:
            raise self._unavailable(err) from err
        self.store.note_received(order.order_id, order.customer_id)
        return True

    async def no_worker(self) -> NoWorker | None:
        """Why nothing will run orders now (no worker polls the task queue), or None."""
        try:
            if await self.watch.has_live_poller(self.task_queue):
                return None
        except RPCError as err:
            raise self._unavailable(err) from err
        return self.watch.no_worker_for(self.task_queue)

    # -- reading orders ---------------------------------------------------------------------

    async def status(self, order_id: str) -> OrderState:
        """The order's state: asked of the running workflow, or read from a finished one's
        history (no worker needed). A running order no worker answers for is shown as the
        store's read model last saw it (``seen_in="database"``, ``note`` says why). The
        money (held, captured, voided, refunded) and the refunds and returns come from
        the store.

        Raises:
            OrderNotFound; NoWorker (running, nothing answers, and the store has no row for
            it); TemporalUnavailable.
        """
        state = await self._state(order_id)
        money = self.store.money_of(order_id)
        return state.model_copy(
            update={
                "money": OrderMoney(
                    authorized=money.authorized,
                    captured=money.captured,
                    charged=money.charged,
                    voided=money.voided,
                    refunded=money.refunded,
                    kept=money.kept,
                    held=money.open_holds(datetime.now(timezone.utc)),
                    refundable=self.store.refundable(order_id),
                ),
                "returns": self.store.after_sales(order_id),
            }
        )

    async def _state(self, order_id: str) -> OrderState:
        handle = self._handle(order_id)
        running = await self._describe(order_id)
        if running:
            try:
                return await self.watch.wait(
                    handle.query(OrderWorkflow.status), handle.id, self.task_queue
                )
            except NoWorker as stalled:
                seen = self.store.order_row(order_id)
                if seen is None:
                    raise
                return OrderState(
                    order_id=order_id,
                    status=OrderStatus(seen.state or OrderStatus.RECEIVED.value),
                    step=seen.step or "",
                    attempts={},
                    compensations=[],
                    seen_in="database",
                    note=str(stalled),
                )
            except RPCError as err:
                if err.status is not RPCStatusCode.NOT_FOUND:
                    raise self._unavailable(err) from err
                # It finished between the two calls: read its history below.
        state = self._state_of(await self.result(order_id), await self._stored_input(order_id))
        return state.model_copy(update={"seen_in": "history"})

    async def result(self, order_id: str) -> OrderResult:
        """Wait for the order's outcome (at once for a finished order), watching it.

        Raises:
            OrderNotFound; NoWorker; TemporalUnavailable.
        """
        handle = self._handle(order_id)
        try:
            return await self.watch.wait(handle.result(), handle.id, self.task_queue)
        except WorkflowFailureError as err:
            return self.watch.result_of_failure(order_id, err)
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                raise OrderNotFound(order_id) from None
            raise self._unavailable(err) from err

    async def settled(self, order_id: str) -> OrderResult:
        """The result once the order is final or parked for an operator (NEEDS_ATTENTION).

        Raises:
            OrderNotFound; NoWorker; TemporalUnavailable.
        """
        handle = self._handle(order_id)
        try:
            return await self.watch.wait(
                handle.execute_update(OrderWorkflow.settled), handle.id, self.task_queue
            )
        except (RPCError, WorkflowUpdateFailedError) as err:
            if isinstance(err, RPCError) and err.status is RPCStatusCode.UNAVAILABLE:
                raise self._unavailable(err) from err
            # Already closed (an update cannot reach it): its result is final.
            return await self.result(order_id)

    async def list_orders(
        self, status: OrderStatus | None = None, limit: int = 100
    ) -> list[OrderSummary]:
        """Orders, newest first, optionally only those in ``status`` (the OrderStatus search
        attribute; where an order has none, its workflow's status: see ``status_query``)."""
        query = "WorkflowType = 'OrderWorkflow'"
        if status is not None:
            query += f" AND {status_query(status)}"
        found: list[OrderSummary] = []
        try:
            async for execution in self.client.list_workflows(query, limit=limit):
                running = (
                    execution.status
                    if isinstance(execution.status, WorkflowExecutionStatus)
                    else None
                )
                found.append(
                    OrderSummary(
                        order_id=execution.id.removeprefix("order-"),
                        status=execution.typed_search_attributes.get(ORDER_STATUS)
                        or UNWRITTEN.get(running, "UNKNOWN"),
                        workflow_status=running.name if running else "UNKNOWN",
                    )
                )
        except RPCError as err:
            raise self._unavailable(err) from err
        return found

    # -- acting on orders -------------------------------------------------------------------

    async def cancel(self, order_id: str, reason: str = "") -> OrderResult:
        """Cancel an order whose shipment is not booked; returns the final result.

        Raises:
            OrderNotFound; ConflictError: too late (shipment booked) or already finished,
                saying why; NoWorker; TemporalUnavailable.
        """
        request = CancelRequest(reason=reason or "cancelled on request")
        return await self._update(
            order_id,
            lambda handle: handle.execute_update(OrderWorkflow.cancel, request),
            "can no longer be cancelled",
        )

    async def review(self, order_id: str, decision: ReviewDecision) -> OrderState:
        """Approve or reject an order waiting for review.

        Raises:
            OrderNotFound; ConflictError: the order is not awaiting review; NoWorker.
        """
        return await self._update(
            order_id,
            lambda handle: handle.execute_update(OrderWorkflow.review, decision),
            "is not awaiting review",
        )

    async def resolve(self, order_id: str, resolution: Resolution) -> OrderState:
        """Settle an order that NEEDS_ATTENTION (retry, or record a manual fix).

        Raises:
            OrderNotFound; ConflictError: the order is not waiting for an operator, or the
                action does not match what is owed (the message says what is); NoWorker.
        """
        return await self._update(
            order_id,
            lambda handle: handle.execute_update(OrderWorkflow.resolve, resolution),
            "is not waiting for an operator",
        )

    async def _update(
        self, order_id: str, update: Callable[[Handle], Awaitable[T]], too_late: str
    ) -> T:
        """An update of a running order, refused by the workflow's validator with a reason;
        ``too_late`` says what a finished order no longer allows."""
        handle = self._handle(order_id)
        if not await self._describe(order_id):
            raise ConflictError(await self._closed_reason(order_id, too_late))
        try:
            result: T = await self.watch.wait(update(handle), handle.id, self.task_queue)
        except WorkflowUpdateFailedError as err:
            raise ConflictError(f"order {order_id}: {_refusal(err)}") from None
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                # It finished between our look and the update.
                raise ConflictError(await self._closed_reason(order_id, too_late)) from None
            raise self._unavailable(err) from err
        return result

    async def _closed_reason(self, order_id: str, too_late: str) -> str:
        state = await self.status(order_id)
        if state.status is OrderStatus.COMPLETED:
            return f"order {order_id} is COMPLETED: its shipment is booked and it {too_late}"
        return f"order {order_id} is {state.status.value}: it has finished and {too_late}"

    # -- after delivery ---------------------------------------------------------------------

    async def refund(self, order_id: str, ask: RefundCreate) -> tuple[AfterSale, bool]:
        """Refund a COMPLETED order (``AfterSales.refund``)."""
        return await self.after_sales.refund(order_id, ask)

    async def open_return(self, order_id: str, ask: ReturnCreate) -> tuple[AfterSale, bool]:
        """Open a customer return (``AfterSales.open_return``)."""
        return await self.after_sales.open_return(order_id, ask)

    async def receive_return(self, return_id: str, ask: ReceiveCreate) -> AfterSale:
        """A return's items arrived (``AfterSales.receive``)."""
        return await self.after_sales.receive(return_id, ask)

    async def wait_after_sale(self, sale: AfterSale) -> AfterSale:
        """Wait until a refund or return has settled (``AfterSales.wait``)."""
        return await self.after_sales.wait(sale)

    def after_sale(self, return_id: str) -> AfterSale:
        """One refund or return (``AfterSales.get``)."""
        return self.after_sales.get(return_id)

    # -- inventory --------------------------------------------------------------------------

    def inventory(self) -> list[StockLevel]:
        """Units per warehouse and SKU (``Stock.levels``)."""
        return self.stock.levels()

    def restock(
        self, sku: str, units: int, warehouse: str, idempotency_key: str | None = None
    ) -> StockLevel:
        """Add units to a shelf (``Stock.restock``)."""
        return self.stock.restock(sku, units, warehouse, idempotency_key)

    def set_stock(self, sku: str, available: int, warehouse: str) -> StockLevel:
        """Set a shelf after a count (``Stock.set``)."""
        return self.stock.set(sku, available, warehouse)

    # -- helpers ----------------------------------------------------------------------------

    def _handle(self, order_id: str) -> Handle:
        if not ORDER_ID_PATTERN.fullmatch(order_id):
            raise OrderNotFound(order_id)  # no order can have this id
        return self.client.get_workflow_handle_for(OrderWorkflow.run, workflow_id(order_id))

    async def _describe(self, order_id: str) -> bool:
        """True while the order's workflow runs; False once it has closed."""
        try:
            description = await self._handle(order_id).describe()
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                raise OrderNotFound(order_id) from None
            raise self._unavailable(err) from err
        return description.status is WorkflowExecutionStatus.RUNNING

    async def _stored_input(self, order_id: str) -> OrderInput | None:
        """The input the order's workflow started with (from its first history event)."""
        try:
            return await self.watch.first_input(workflow_id(order_id))
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                raise OrderNotFound(order_id) from None
            raise self._unavailable(err) from err

    @staticmethod
    def _state_of(result: OrderResult, inp: OrderInput | None) -> OrderState:
        threshold = inp.options.review_threshold if inp else None
        return OrderState(
            order_id=result.order_id,
            status=result.status,
            step="",
            attempts=result.attempts,
            compensations=result.compensations,
            total=result.total,
            reason=result.reason,
            shipments=result.shipments,
            order=inp.order if inp else None,
            lines=result.lines,
            needs_review=bool(
                threshold is not None and result.total and result.total.total > threshold
            ),
            error_type=result.error_type,
            invalid=result.invalid,
            failed_step=result.failed_step,
        )

    def _unavailable(self, err: RPCError) -> Exception:
        return unavailable(self.client, err)


def _reused(order_id: str) -> str:
    return f"order id {order_id!r} is already used by a different order"


def _refusal(err: WorkflowUpdateFailedError) -> str:
    """Why the workflow refused an update (its validator's message, when it gave one)."""
    cause = err.cause
    return cause.message if isinstance(cause, ApplicationError) else str(err)
