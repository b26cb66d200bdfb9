"""The compensation stack: register before the step, unwind in reverse, shielded.

Workflow code (deterministic): it only schedules activities and records what they did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

with workflow.unsafe.imports_passed_through():
    from orderflow.domain.models import (
        CancelShipmentReceipt,
        PaymentReleaseReceipt,
        Receipt,
        RefundReceipt,
        ReleaseReceipt,
    )
    from orderflow.workflows.messages import (
        CompensationAction,
        CompensationRecord,
        CompensationRequest,
        RetryOptions,
        Step,
    )
    from orderflow.workflows.policy import retry_policy, timeout


def attempts_of(err: ActivityError, policy: RetryPolicy) -> int:
    """How many attempts a failed activity made, as far as the workflow can tell."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.details:
        detail = cause.details[0]
        if isinstance(detail, dict) and isinstance(detail.get("attempt"), int):
            return int(detail["attempt"])
    if err.retry_state is RetryState.MAXIMUM_ATTEMPTS_REACHED and policy.maximum_attempts:
        return policy.maximum_attempts
    return 1


def describe_error(err: ActivityError) -> str:
    """A one-line reason naming the error type and its message."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        text = f"{cause.type or 'ApplicationError'}: {cause.message}"
    elif cause is not None:
        text = f"{type(cause).__name__}: {cause}"
    else:
        text = str(err)
    if err.retry_state is RetryState.MAXIMUM_ATTEMPTS_REACHED:
        text += " (retries exhausted)"
    return text


def _outcome(receipt: Receipt) -> tuple[bool, str]:
    if isinstance(receipt, RefundReceipt):
        return receipt.amount > 0, (
            f"refunded {receipt.amount}" if receipt.amount > 0 else "nothing had been charged"
        )
    if isinstance(receipt, ReleaseReceipt):
        return receipt.units > 0, (
            f"released {receipt.units} unit(s)" if receipt.units else "no stock was held"
        )
    if isinstance(receipt, PaymentReleaseReceipt):
        done = [
            *([f"refunded {receipt.refunded} captured"] if receipt.refunded > 0 else []),
            *([f"voided the hold of {receipt.voided}"] if receipt.voided > 0 else []),
        ]
        return bool(done), ", ".join(done) or "nothing was held or taken"
    if isinstance(receipt, CancelShipmentReceipt):
        return receipt.cancelled > 0, (
            f"cancelled {receipt.cancelled} shipment(s)"
            if receipt.cancelled
            else "no shipment had been booked"
        )
    return False, "done"  # pragma: no cover - every compensation returns one of the above


class _Compensation:
    """One compensation owed: which step it undoes, how, for which order.

    A plain class, not a dataclass: this module is imported anew for every order the
    sandbox runs, and a dataclass costs a code generation (``exec``) at each import.
    """

    __slots__ = ("action", "activity", "order_id", "step")

    def __init__(
        self,
        step: Step,
        action: CompensationAction,
        activity: Callable[..., Any],
        order_id: str,
    ) -> None:
        self.step = step
        self.action = action
        self.activity = activity
        self.order_id = order_id


class Saga:
    """Compensations registered before their steps, run newest first."""

    def __init__(self, options: RetryOptions) -> None:
        self._options = options
        self._stack: list[_Compensation] = []
        self.records: list[CompensationRecord] = []
        #: Compensations that still failed after their retries, in the order they ran.
        self.failed: list[_Compensation] = []

    def register(
        self, step: Step, action: CompensationAction, activity: Callable[..., Any], order_id: str
    ) -> None:
        """Owe ``activity`` if ``step`` (about to run) might have had an effect."""
        self._stack.append(_Compensation(step, action, activity, order_id))

    async def compensate(self) -> list[CompensationRecord]:
        """Unwind every registered compensation in reverse; survives cancellation.

        Returns the records of this unwind. A compensation that still fails after its
        persistent retries is recorded with ``ok=False``; the caller turns that into
        NEEDS_ATTENTION rather than pretending the order is clean.
        """
        task = asyncio.ensure_future(self._unwind())
        while True:
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                # A cancellation arrived mid-unwind: keep unwinding; it cannot be skipped.
                if task.done():
                    return task.result()

    async def retry_failed(self) -> list[CompensationRecord]:
        """Run the failed compensations again, in the same order (an operator's retry)."""
        self._stack = list(reversed(self.failed))
        self.failed = []
        return await self.compensate()

    def failed_actions(self) -> list[CompensationAction]:
        """Names of the compensations still owed."""
        return [comp.action for comp in self.failed]

    async def resolve_manually(
        self, action: CompensationAction, manual_activity: Callable[..., Any], request: Any
    ) -> CompensationRecord:
        """Record that an operator did ``action`` by hand (writes the database, not the
        unreachable service), and stop owing it."""
        comp = next(c for c in self.failed if c.action == action)
        policy = retry_policy(self._options)
        receipt: Receipt = await workflow.execute_activity_method(
            manual_activity,
            request,
            start_to_close_timeout=timeout(self._options),
            retry_policy=policy,
            summary=f"resolve {comp.step.value}: {action.value} by hand",
        )
        undid, detail = _outcome(receipt)
        record = CompensationRecord(
            step=comp.step,
            action=action,
            ok=True,
            undid_something=undid,
            detail=f"resolved by hand: {detail}",
            attempts=receipt.attempt,
        )
        self.failed.remove(comp)
        self.records.append(record)
        return record

    async def _unwind(self) -> list[CompensationRecord]:
        records: list[CompensationRecord] = []
        policy = retry_policy(self._options)
        while self._stack:
            comp = self._stack.pop()
            workflow.logger.warning(
                "order %s: compensating %s (%s)", comp.order_id, comp.step.value, comp.action.value
            )
            try:
                receipt: Receipt = await workflow.execute_activity_method(
                    comp.activity,
                    CompensationRequest(order_id=comp.order_id),
                    start_to_close_timeout=timeout(self._options),
                    retry_policy=policy,
                    summary=f"compensate {comp.step.value}: {comp.action.value}",
                )
            except ActivityError as err:
                workflow.logger.error(
                    "order %s: compensation %s failed: %s",
                    comp.order_id,
                    comp.action.value,
                    describe_error(err),
                )
                records.append(
                    CompensationRecord(
                        step=comp.step,
                        action=comp.action,
                        ok=False,
                        undid_something=False,
                        detail=describe_error(err),
                        attempts=attempts_of(err, policy),
                    )
                )
                self.failed.append(comp)
                continue
            undid, detail = _outcome(receipt)
            workflow.logger.warning(
                "order %s: compensation %s done: %s", comp.order_id, comp.action.value, detail
            )
            records.append(
                CompensationRecord(
                    step=comp.step,
                    action=comp.action,
                    ok=True,
                    undid_something=undid,
                    detail=detail,
                    attempts=receipt.attempt,
                )
            )
        self.records.extend(records)
        return records
