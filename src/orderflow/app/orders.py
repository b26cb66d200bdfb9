"""Application service: what the CLI and the REST API do with orders, in one place.

Entry points only translate input into these calls and these errors into responses.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from orderflow.domain.models import Order
from orderflow.domain.status import OrderStatus
from orderflow.store import Store
from orderflow.temporal.client import initial_search_attributes, workflow_id
from orderflow.workflows.messages import (
    CancelRequest,
    OrderInput,
    OrderOptions,
    OrderResult,
    OrderState,
    PricedOrder,
    Resolution,
    ReviewDecision,
)
from orderflow.workflows.observability import ORDER_STATUS
from orderflow.workflows.order import OrderWorkflow


class OrderNotFound(LookupError):
    """No order with that id."""


class OrderRejected(ValueError):
    """The order (or a request about it) breaks a rule; ``field`` names where if known."""

    def __init__(self, message: str, field: str = "", error_type: str = "InvalidOrder") -> None:
        super().__init__(message)
        self.field = field
        self.error_type = error_type


class ConflictError(RuntimeError):
    """The request conflicts with the order's state (e.g. cancel after shipment)."""


class OrderSummary(BaseModel):
    """One line of an order listing."""

    order_id: str
    status: str
    workflow_status: str


class StockLevel(BaseModel):
    """Units available for one SKU in one warehouse."""

    warehouse: str
    sku: str
    available: int


def order_id_for_key(idempotency_key: str) -> str:
    """A stable order id for a client's Idempotency-Key (same key, same order)."""
    return "k-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


def _field_of(message: str) -> str:
    """The field named by an InvalidOrder message ('validate: InvalidOrder: items[0].sku: ...')."""
    parts = [part.strip() for part in message.split(":")]
    if "InvalidOrder" in parts:
        index = parts.index("InvalidOrder")
        if index + 1 < len(parts):
            return parts[index + 1]
    return ""


class OrderService:
    """Submit, inspect, cancel and review orders; read and restock inventory."""

    def __init__(
        self, client: Client, store: Store, task_queue: str, options: OrderOptions | None = None
    ) -> None:
        self.client = client
        self.store = store
        self.task_queue = task_queue
        self.options = options or OrderOptions()

    async def submit(self, order: Order) -> PricedOrder:
        """Start the order (update-with-start) and answer with its validated, priced form.

        Submitting the same order id again attaches to the existing order: no second saga.

        Raises:
            OrderRejected: the order is invalid (nothing was charged or reserved).
            ConflictError: the order id is already used by a different order.
        """
        start = WithStartWorkflowOperation(
            OrderWorkflow.run,
            OrderInput(order=order, options=self.options),
            id=workflow_id(order.order_id),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=initial_search_attributes(self.options),
        )
        try:
            priced = await self.client.execute_update_with_start_workflow(
                OrderWorkflow.priced, start_workflow_operation=start
            )
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError):
                raise OrderRejected(
                    cause.message, _field_of(cause.message), cause.type or "InvalidOrder"
                ) from err
            raise
        except WorkflowAlreadyStartedError:
            # The id belongs to an order that has finished: answer with that order.
            return await self._priced_from_closed(order, start)
        except RPCError as err:
            if err.status is RPCStatusCode.ALREADY_EXISTS:
                return await self._priced_from_closed(order, start)
            raise
        await self._check_same_order(order)
        return priced

    async def _priced_from_closed(
        self, order: Order, start: WithStartWorkflowOperation[Any, Any]
    ) -> PricedOrder:
        # The start operation holds the same error; read it so asyncio does not log it.
        with contextlib.suppress(WorkflowAlreadyStartedError, RPCError):
            await start.workflow_handle()
        state = await self.status(order.order_id)
        self._check_same(order, state)
        if state.total is None:
            raise OrderRejected(
                state.reason or "order failed",
                _field_of(state.reason),
                state.error_type or "OrderFailed",
            )
        return PricedOrder(
            order_id=order.order_id,
            status=state.status,
            total=state.total,
            lines=state.lines,
            needs_review=state.needs_review,
        )

    async def _check_same_order(self, order: Order) -> None:
        state = await self.status(order.order_id)
        self._check_same(order, state)

    @staticmethod
    def _check_same(order: Order, state: OrderState) -> None:
        if state.order is not None and state.order != order:
            raise ConflictError(f"order id {order.order_id!r} is already used by a different order")

    async def status(self, order_id: str) -> OrderState:
        """The order's current state (works while running and after it finished)."""
        handle = self.client.get_workflow_handle_for(OrderWorkflow.run, workflow_id(order_id))
        try:
            return await handle.query(OrderWorkflow.status)
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                raise OrderNotFound(order_id) from err
            raise

    async def result(self, order_id: str) -> OrderResult:
        """Wait for the order's outcome."""
        handle = self.client.get_workflow_handle_for(OrderWorkflow.run, workflow_id(order_id))
        return await handle.result()

    async def cancel(self, order_id: str, reason: str = "") -> OrderResult:
        """Cancel an order whose shipment is not booked; returns the final result.

        Raises:
            OrderNotFound: no such order.
            ConflictError: too late (shipment booked) or already finished; says why.
        """
        state = await self.status(order_id)
        if not state.status.cancellable:
            raise ConflictError(self._too_late(order_id, state.status))
        handle = self.client.get_workflow_handle_for(OrderWorkflow.run, workflow_id(order_id))
        try:
            return await handle.execute_update(
                OrderWorkflow.cancel, CancelRequest(reason=reason or "cancelled on request")
            )
        except WorkflowUpdateFailedError as err:
            raise ConflictError(_refusal(err)) from err
        except RPCError as err:
            # The order finished between our look and the update.
            state = await self.status(order_id)
            raise ConflictError(self._too_late(order_id, state.status)) from err

    @staticmethod
    def _too_late(order_id: str, status: OrderStatus) -> str:
        if status is OrderStatus.COMPLETED:
            return (
                f"order {order_id} is COMPLETED: its shipment is booked "
                "and it can no longer be cancelled"
            )
        return f"order {order_id} is {status.value} and can no longer be cancelled"

    async def review(self, order_id: str, decision: ReviewDecision) -> OrderState:
        """Approve or reject an order waiting for review.

        Raises:
            OrderNotFound, ConflictError: the order is not awaiting review.
        """
        state = await self.status(order_id)
        if state.status is not OrderStatus.AWAITING_REVIEW:
            raise ConflictError(f"order {order_id} is {state.status.value}, not awaiting review")
        handle = self.client.get_workflow_handle_for(OrderWorkflow.run, workflow_id(order_id))
        try:
            return await handle.execute_update(OrderWorkflow.review, decision)
        except WorkflowUpdateFailedError as err:
            raise ConflictError(f"order {order_id} is no longer awaiting review") from err
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                raise ConflictError(f"order {order_id} is no longer awaiting review") from err
            raise

    async def resolve(self, order_id: str, resolution: Resolution) -> OrderState:
        """Settle an order that NEEDS_ATTENTION (retry, or record a manual fix).

        Raises:
            OrderNotFound; ConflictError: the order is not waiting for an operator, or the
                action does not match what is owed (the message says what is).
        """
        await self.status(order_id)
        handle = self.client.get_workflow_handle_for(OrderWorkflow.run, workflow_id(order_id))
        try:
            return await handle.execute_update(OrderWorkflow.resolve, resolution)
        except WorkflowUpdateFailedError as err:
            raise ConflictError(_refusal(err)) from err
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                raise ConflictError(f"order {order_id} is not waiting for an operator") from err
            raise

    async def list_orders(
        self, status: OrderStatus | None = None, limit: int = 100
    ) -> list[OrderSummary]:
        """Orders, newest first, optionally only those in ``status`` (via the search attribute)."""
        query = "WorkflowType = 'OrderWorkflow'"
        if status is not None:
            query += f" AND {ORDER_STATUS.name} = '{status.value}'"
        found: list[OrderSummary] = []
        async for execution in self.client.list_workflows(query, limit=limit):
            value = execution.typed_search_attributes.get(ORDER_STATUS)
            found.append(
                OrderSummary(
                    order_id=execution.id.removeprefix("order-"),
                    status=value or "UNKNOWN",
                    workflow_status=(
                        execution.status.name
                        if isinstance(execution.status, WorkflowExecutionStatus)
                        else "UNKNOWN"
                    ),
                )
            )
        return found

    def inventory(self) -> list[StockLevel]:
        """Units available per warehouse and SKU."""
        return [
            StockLevel(warehouse=warehouse, sku=sku, available=units)
            for warehouse, shelf in sorted(self.store.availability().items())
            for sku, units in sorted(shelf.items())
        ]

    def restock(self, sku: str, units: int, warehouse: str) -> StockLevel:
        """Add units to a shelf.

        Raises:
            OrderRejected: unknown SKU or warehouse, or units not a positive whole number.
        """
        if units <= 0:
            raise OrderRejected("units must be a positive whole number", "units", "InvalidRestock")
        try:
            available = self.store.restock(sku, units, warehouse)
        except KeyError as err:
            raise OrderRejected(
                f"unknown SKU {sku!r} or warehouse {warehouse!r}", "sku", "InvalidRestock"
            ) from err
        return StockLevel(warehouse=warehouse, sku=sku, available=available)


def _refusal(err: WorkflowUpdateFailedError) -> str:
    """Why the workflow refused an update (its validator's message, when it gave one)."""
    cause = err.cause
    return cause.message if isinstance(cause, ApplicationError) else str(err)
