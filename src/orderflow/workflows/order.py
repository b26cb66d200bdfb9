"""OrderWorkflow: the six steps in order, and the saga that makes failure safe.

Orchestration only: the total is pure workflow math; everything that touches the outside
world is an activity with an explicit timeout and RetryPolicy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError

with workflow.unsafe.imports_passed_through():
    from orderflow.domain.pricing import price_order
    from orderflow.domain.status import OrderStatus
    from orderflow.workflows.activities import OrderActivities
    from orderflow.workflows.messages import (
        OrderInput,
        OrderResult,
        OrderState,
        PaymentRequest,
        QuoteRequest,
        ReserveRequest,
        RetryOptions,
        ShipmentRequest,
    )
    from orderflow.workflows.policy import retry_policy, timeout
    from orderflow.workflows.saga import Saga, attempts_of, describe_error

T = TypeVar("T")


class _StepFailed(Exception):
    def __init__(self, step: str, error: ActivityError) -> None:
        super().__init__(step)
        self.step = step
        self.error = error


@workflow.defn
class OrderWorkflow:
    """One order: validate, total, charge, reserve, quote shipping, book the shipment."""

    def __init__(self) -> None:
        self._order_id = ""
        self._status = OrderStatus.RECEIVED
        self._step = ""
        self._attempts: dict[str, int] = {}
        self._saga: Saga | None = None

    @workflow.query
    def status(self) -> OrderState:
        """Where the order is: status, current step, attempts so far, compensations."""
        return OrderState(
            order_id=self._order_id,
            status=self._status,
            step=self._step,
            attempts=dict(self._attempts),
            compensations=list(self._saga.records) if self._saga else [],
        )

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderResult:
        """Process the order; a failed order is a result (FAILED), not a failed workflow."""
        order = inp.order
        self._order_id = order.order_id
        steps = inp.options.steps
        saga = self._saga = Saga(inp.options.compensations)
        result = OrderResult(order_id=order.order_id, status=OrderStatus.RECEIVED)
        acts = OrderActivities
        try:
            validated = await self._run("validate", acts.validate_order, order, steps, "validate")
            self._status = OrderStatus.VALIDATED
            result.total = total = price_order(validated.lines, order.service_level)

            saga.register("payment", "refund_payment", acts.refund_payment, order.order_id)
            result.payment = await self._run(
                "payment",
                acts.process_payment,
                PaymentRequest(
                    order_id=order.order_id, amount=total.total, payment_token=order.payment_token
                ),
                steps,
                f"charge {total.total}",
            )
            self._status = OrderStatus.PAID

            saga.register("inventory", "release_inventory", acts.release_inventory, order.order_id)
            result.reservation = await self._run(
                "inventory",
                acts.reserve_inventory,
                ReserveRequest(order_id=order.order_id, lines=validated.lines),
                steps,
                f"reserve {sum(line.quantity for line in validated.lines)} unit(s)",
            )
            self._status = OrderStatus.RESERVED

            result.quote = quote = await self._run(
                "shipping_quote",
                acts.calculate_shipping,
                QuoteRequest(
                    order_id=order.order_id,
                    lines=validated.lines,
                    service_level=order.service_level,
                ),
                steps,
                f"quote {order.service_level.value} shipping",
            )
            self._status = OrderStatus.SHIPPING_QUOTED

            saga.register("shipment", "cancel_shipment", acts.cancel_shipment, order.order_id)
            result.shipment = await self._run(
                "shipment",
                acts.schedule_shipment,
                ShipmentRequest(order_id=order.order_id, quote=quote),
                steps,
                "book shipment",
            )
            self._status = OrderStatus.COMPLETED
        except _StepFailed as failed:
            result.failed_step = failed.step
            result.reason = f"{failed.step}: {describe_error(failed.error)}"
            workflow.logger.warning("order %s failed: %s", order.order_id, result.reason)
            self._status = OrderStatus.COMPENSATING
            records = await saga.compensate()
            self._status = (
                OrderStatus.NEEDS_ATTENTION
                if any(not r.ok for r in records)
                else OrderStatus.FAILED
            )
        except asyncio.CancelledError:
            workflow.logger.warning("order %s cancelled; compensating", order.order_id)
            self._status = OrderStatus.COMPENSATING
            records = await saga.compensate()
            self._status = (
                OrderStatus.NEEDS_ATTENTION
                if any(not r.ok for r in records)
                else OrderStatus.CANCELLED
            )
            raise
        self._step = ""
        result.status = self._status
        result.attempts = dict(self._attempts)
        result.compensations = list(saga.records)
        return result

    async def _run(
        self,
        step: str,
        activity: Callable[..., Any],
        arg: Any,
        options: RetryOptions,
        summary: str,
    ) -> Any:
        """Run one step's activity with its timeout and RetryPolicy; record attempts."""
        self._step = step
        policy = retry_policy(options)
        try:
            receipt = await workflow.execute_activity_method(
                activity,
                arg,
                start_to_close_timeout=timeout(options),
                retry_policy=policy,
                summary=summary,
            )
        except ActivityError as err:
            if isinstance(err.cause, CancelledError):
                raise asyncio.CancelledError() from err
            self._attempts[step] = attempts_of(err, policy)
            raise _StepFailed(step, err) from err
        self._attempts[step] = getattr(receipt, "attempt", 1)
        return receipt
