"""Refunds and returns of delivered orders: what every door does with them, in one place.

The door's checks run here before anything starts: the order must be COMPLETED; a refund
names its reason and either an amount, lines, or neither (everything the order has left
to refund); a return names its lines. Then the request is written to the store (which
refuses units already given back, or more money than the order has left) and its
``AfterSaleWorkflow`` starts. The same id twice is the same request: nothing is refunded
twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated

from pydantic import Field, ValidationError, field_validator
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from orderflow.app.errors import (
    AfterSaleNotFound,
    ConflictError,
    FieldError,
    OrderRejected,
    unavailable,
)
from orderflow.app.intake import MAX_SKU, ORDER_ID_RULE, StrictModel, rejection
from orderflow.app.watch import Watchman
from orderflow.domain.models import (
    AfterSale,
    AfterSaleKind,
    AfterSaleStatus,
    ReservedLine,
)
from orderflow.domain.pricing import refund_of_lines
from orderflow.domain.status import OrderStatus
from orderflow.domain.validation import MAX_LINES, ORDER_ID_PATTERN
from orderflow.store import Store
from orderflow.store.aftersale import AfterSaleConflict
from orderflow.workflows.aftersale import AfterSaleWorkflow, after_sale_workflow_id
from orderflow.workflows.messages import (
    AfterSaleInput,
    OrderState,
    ReceiveRequest,
    RetryOptions,
)

#: How long a reason or an operator's note may be.
MAX_REASON = 500
Money = Annotated[Decimal, Field(max_digits=14, decimal_places=2, gt=0)]


class AfterSaleLine(StrictModel):
    """Units of one of the order's SKUs to refund or give back."""

    sku: str = Field(max_length=MAX_SKU, examples=["TEE-BLACK-M"])
    quantity: int = Field(strict=True, ge=1, le=1000, examples=[1])


class RefundCreate(StrictModel):
    """A refund of a delivered order: in full (no ``amount``, no ``lines``), an amount, or
    by line (their goods and tax). Always with a reason."""

    reason: str = Field(min_length=1, max_length=MAX_REASON, examples=["arrived damaged"])
    amount: Money | None = Field(default=None, examples=["12.50"])
    lines: list[AfterSaleLine] | None = Field(default=None, min_length=1, max_length=MAX_LINES)
    #: The client's id for this refund: the same id again is the same refund.
    refund_id: str | None = Field(default=None, pattern=ORDER_ID_PATTERN.pattern)
    operator: str = Field(default="", max_length=200)

    @field_validator("reason")
    @classmethod
    def _said(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must say why (not blank)")
        return value


class ReturnCreate(StrictModel):
    """A customer return: which units come back, and why. Refunded once they arrive."""

    lines: list[AfterSaleLine] = Field(min_length=1, max_length=MAX_LINES)
    reason: str = Field(min_length=1, max_length=MAX_REASON, examples=["too small"])
    #: The client's id for this return: the same id again is the same return.
    return_id: str | None = Field(default=None, pattern=ORDER_ID_PATTERN.pattern)

    @field_validator("reason")
    @classmethod
    def _said(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must say why (not blank)")
        return value


class ReceiveCreate(StrictModel):
    """A return's items arrived."""

    operator: str = Field(default="", max_length=200)
    note: str = Field(default="", max_length=MAX_REASON)


def parse(model: type[StrictModel], data: object, where: str) -> StrictModel:
    """``data`` read by ``model``; refusals name each field (``OrderRejected``)."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise _named(rejection(err, where)) from None


def _named(err: OrderRejected) -> OrderRejected:
    # A refund's or return's id follows the order id's rule, in the same words.
    return OrderRejected(
        [
            FieldError(error.field, ORDER_ID_RULE)
            if error.field in ("refund_id", "return_id") and "pattern" in error.rule
            else error
            for error in err.errors
        ]
    )


class AfterSales:
    """Refund, open a return, receive a return's items; read them back."""

    def __init__(
        self,
        client: Client,
        store: Store,
        task_queue: str,
        watch: Watchman,
        status: Callable[[str], Awaitable[OrderState]],
        *,
        window_s: float,
        retries: RetryOptions,
    ) -> None:
        self.client = client
        self.store = store
        self.task_queue = task_queue
        self.watch = watch
        self._status = status
        self.window_s = window_s
        self.retries = retries

    async def refund(self, order_id: str, ask: RefundCreate) -> tuple[AfterSale, bool]:
        """Refund a COMPLETED order (in full, an amount, or lines); returns the refund as
        recorded and whether this call made it (False: the same ``refund_id`` again).

        Raises:
            OrderNotFound; OrderRejected: a field breaks a rule (amount above what is left,
                a SKU the order does not have); ConflictError: not completed, nothing left
                to refund, the units were already refunded, or the id names another
                refund; TemporalUnavailable.
        """
        if ask.amount is not None and ask.lines is not None:
            raise OrderRejected.one("amount", "give an amount or lines, not both")
        repeat = self._repeat(order_id, ask.refund_id, AfterSaleKind.REFUND, ask.lines)
        if repeat is not None:
            if ask.amount is not None and ask.amount != repeat.amount:
                raise ConflictError(_reused(repeat))
            return await self._start(repeat), False
        state = await self._delivered(order_id, "refunded")
        quantities = self._quantities(state, ask.lines or [])
        left = self.store.refundable(order_id)
        if left <= 0:
            raise ConflictError(f"order {order_id} has nothing left to refund")
        if ask.amount is not None:
            if ask.amount > left:
                raise OrderRejected.one(
                    "amount", f"must be at most {left} (what order {order_id} has left to refund)"
                )
            amount = ask.amount
        elif quantities:
            prices = {line.sku: line.unit_price for line in state.lines}
            amount = min(refund_of_lines(prices, quantities), left)
        else:
            amount = left
        sale = AfterSale(
            return_id=ask.refund_id or f"rf-{uuid.uuid4().hex[:20]}",
            order_id=order_id,
            kind=AfterSaleKind.REFUND,
            status=AfterSaleStatus.REQUESTED,
            lines=[ReservedLine(sku=sku, quantity=q) for sku, q in quantities.items()],
            reason=_reason(ask.reason, ask.operator),
            amount=amount,
        )
        return await self._open(sale, state)

    async def open_return(self, order_id: str, ask: ReturnCreate) -> tuple[AfterSale, bool]:
        """Open a customer return of a COMPLETED order's units: it waits for them for the
        return window, then restocks and refunds their goods and tax.

        Raises: as ``refund``.
        """
        repeat = self._repeat(order_id, ask.return_id, AfterSaleKind.RETURN, ask.lines)
        if repeat is not None:
            return await self._start(repeat), False
        state = await self._delivered(order_id, "returned")
        quantities = self._quantities(state, ask.lines)
        left = self.store.refundable(order_id)
        if left <= 0:
            raise ConflictError(f"order {order_id} has nothing left to refund")
        prices = {line.sku: line.unit_price for line in state.lines}
        sale = AfterSale(
            return_id=ask.return_id or f"rt-{uuid.uuid4().hex[:20]}",
            order_id=order_id,
            kind=AfterSaleKind.RETURN,
            status=AfterSaleStatus.REQUESTED,
            lines=[ReservedLine(sku=sku, quantity=q) for sku, q in quantities.items()],
            reason=ask.reason,
            amount=min(refund_of_lines(prices, quantities), left),
            due_at=datetime.now(timezone.utc) + timedelta(seconds=self.window_s),
        )
        return await self._open(sale, state)

    async def receive(self, return_id: str, ask: ReceiveCreate) -> AfterSale:
        """A return's items arrived: restock them and refund; returns the settled return.

        Raises:
            AfterSaleNotFound; ConflictError: not a return, or no longer waiting for its
                items (received, expired); NoWorker; TemporalUnavailable.
        """
        sale = self.get(return_id)
        if sale.kind is not AfterSaleKind.RETURN:
            raise ConflictError(f"{return_id} is a refund; only a return receives items")
        handle = self.client.get_workflow_handle_for(
            AfterSaleWorkflow.run, after_sale_workflow_id(sale.kind, return_id)
        )
        try:
            description = await handle.describe()
        except RPCError as err:
            raise self._unavailable(err) from err
        if description.status is not WorkflowExecutionStatus.RUNNING:
            now = self.get(return_id)
            raise ConflictError(f"return {return_id} is {now.status.value}; it awaits no items")
        try:
            return await self.watch.wait(
                handle.execute_update(
                    AfterSaleWorkflow.receive,
                    ReceiveRequest(operator=ask.operator, note=ask.note),
                ),
                handle.id,
                self.task_queue,
            )
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            raise ConflictError(f"return {return_id}: {getattr(cause, 'message', err)}") from None
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                now = self.get(return_id)
                raise ConflictError(
                    f"return {return_id} is {now.status.value}; it awaits no items"
                ) from None
            raise self._unavailable(err) from err

    async def wait(self, sale: AfterSale) -> AfterSale:
        """Wait until the refund (or the return) has settled; watched (``NoWorker``)."""
        handle = self.client.get_workflow_handle_for(
            AfterSaleWorkflow.run, after_sale_workflow_id(sale.kind, sale.return_id)
        )
        try:
            return await self.watch.wait(handle.result(), handle.id, self.task_queue)
        except RPCError as err:
            raise self._unavailable(err) from err

    def get(self, return_id: str) -> AfterSale:
        """One refund or return, as the store has it.

        Raises:
            AfterSaleNotFound.
        """
        found = self.store.after_sale(return_id) if ORDER_ID_PATTERN.fullmatch(return_id) else None
        if found is None:
            raise AfterSaleNotFound(return_id)
        return found

    # -- helpers ----------------------------------------------------------------------------

    def _repeat(
        self,
        order_id: str,
        given: str | None,
        kind: AfterSaleKind,
        lines: list[AfterSaleLine] | None,
    ) -> AfterSale | None:
        """The request already recorded under the id ``given``, if any; the same id for a
        different request is a conflict."""
        if given is None:
            return None
        found = self.store.after_sale(given)
        if found is None:
            return None
        asked = {line.sku: line.quantity for line in lines or []}
        if (
            found.order_id != order_id
            or found.kind is not kind
            or (lines is not None and asked != {x.sku: x.quantity for x in found.lines})
        ):
            raise ConflictError(_reused(found))
        return found

    async def _delivered(self, order_id: str, what: str) -> OrderState:
        state = await self._status(order_id)
        if state.status is not OrderStatus.COMPLETED:
            raise ConflictError(
                f"order {order_id} is {state.status.value}: only a COMPLETED (delivered) order "
                f"can be {what}"
            )
        return state

    @staticmethod
    def _quantities(state: OrderState, lines: list[AfterSaleLine]) -> dict[str, int]:
        ordered = {line.sku: line.quantity for line in state.lines}
        quantities: dict[str, int] = {}
        for index, line in enumerate(lines):
            field = f"lines[{index}]"
            if line.sku not in ordered:
                raise OrderRejected.one(
                    f"{field}.sku", f"order {state.order_id} has no line of {line.sku!r}"
                )
            if line.sku in quantities:
                raise OrderRejected.one(f"{field}.sku", f"{line.sku!r} is listed twice")
            if line.quantity > ordered[line.sku]:
                raise OrderRejected.one(
                    f"{field}.quantity",
                    f"must be at most {ordered[line.sku]} (the units of {line.sku} delivered)",
                )
            quantities[line.sku] = line.quantity
        return quantities

    async def _open(self, sale: AfterSale, state: OrderState) -> tuple[AfterSale, bool]:
        ordered = {line.sku: line.quantity for line in state.lines}
        try:
            recorded, new = self.store.open_after_sale(sale, ordered)
        except AfterSaleConflict as err:
            raise ConflictError(f"order {sale.order_id}: {err}") from None
        return await self._start(recorded), new

    async def _start(self, recorded: AfterSale) -> AfterSale:
        """Start the request's workflow (once: a second start finds the first)."""
        if recorded.settled:
            return recorded
        try:
            await self.client.start_workflow(
                AfterSaleWorkflow.run,
                AfterSaleInput(sale=recorded, window_s=self.window_s, retries=self.retries),
                id=after_sale_workflow_id(recorded.kind, recorded.return_id),
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except WorkflowAlreadyStartedError:
            pass  # started by the first of two identical requests (or it has finished)
        except RPCError as err:
            # The row stays REQUESTED: the same request again starts its workflow.
            raise self._unavailable(err) from err
        return recorded

    def _unavailable(self, err: RPCError) -> Exception:
        return unavailable(self.client, err)


def _reused(found: AfterSale) -> str:
    return (
        f"id {found.return_id!r} is already used by another {found.kind.value} "
        f"(of order {found.order_id})"
    )


def _reason(reason: str, operator: str) -> str:
    return f"{reason} (by {operator})" if operator else reason
