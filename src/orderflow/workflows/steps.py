"""Running the order's steps: one activity with its policy, or a fan-out per warehouse.

Workflow code (deterministic); a base class of OrderWorkflow, split out to keep each
module readable.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from orderflow.domain.models import PricedLine
    from orderflow.workflows.messages import RetryOptions, ShipmentOutcome
    from orderflow.workflows.policy import retry_policy, timeout
    from orderflow.workflows.saga import attempts_of, describe_error


class StepFailed(Exception):
    """A step failed for good (business error or retries exhausted)."""

    def __init__(self, step: str, reason: str, error_type: str) -> None:
        super().__init__(reason)
        self.step = step
        self.reason = reason
        self.error_type = error_type


class Stopped(Exception):
    """The order was cancelled on request or by the review timer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StepRunner:
    """Step state shared with OrderWorkflow: current step, attempts, shipments, stop."""

    def __init__(self) -> None:
        self._step = ""
        self._attempts: dict[str, int] = {}
        self._shipments: dict[str, ShipmentOutcome] = {}
        self._stop_reason: str | None = None

    async def _fan_out(
        self,
        step: str,
        done_status: str,
        parcels: dict[str, list[PricedLine]],
        branch: Callable[[str, list[PricedLine]], Awaitable[Any]],
    ) -> None:
        """Run ``branch`` per warehouse in parallel; join all before deciding.

        Every branch finishes (or fails) before the saga unwinds, so compensation sees
        exactly what was done in each warehouse.
        """

        async def one(warehouse: str, lines: list[PricedLine]) -> None:
            try:
                await branch(warehouse, lines)
            except StepFailed as failed:
                self._shipments[warehouse].status = "failed"
                self._shipments[warehouse].error = failed.reason
                raise
            self._shipments[warehouse].status = done_status

        outcomes = await asyncio.gather(
            *(one(w, lines) for w, lines in parcels.items()), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, (Stopped, asyncio.CancelledError)):
                raise outcome
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _call(
        self, step: str, activity: Callable[..., Any], arg: Any, options: RetryOptions, summary: str
    ) -> Any:
        """Run one activity with its timeout and RetryPolicy; stop early on a cancel request."""
        if self._stop_reason is not None:
            raise Stopped(self._stop_reason)
        self._step = step
        policy = retry_policy(options)
        task = asyncio.ensure_future(
            workflow.execute_activity_method(
                activity,
                arg,
                start_to_close_timeout=timeout(options),
                retry_policy=policy,
                summary=summary,
            )
        )
        try:
            await workflow.wait_condition(lambda: task.done() or self._stop_reason is not None)
        except asyncio.CancelledError:
            task.cancel()  # cancelled through Temporal: stop the attempt too
            raise
        if not task.done():
            # Cancel the running attempt; its compensation is registered, and a late effect
            # is refused by the tombstone the compensation leaves.
            task.cancel()
            with contextlib.suppress(ActivityError, asyncio.CancelledError):
                await task
            raise Stopped(self._stop_reason or "cancelled on request")
        try:
            receipt = task.result()
        except ActivityError as err:
            if isinstance(err.cause, CancelledError):
                raise asyncio.CancelledError() from err
            self._attempts[step] = attempts_of(err, policy)
            cause = err.cause
            error_type = (
                (cause.type or "ApplicationError")
                if isinstance(cause, ApplicationError)
                else type(cause).__name__
            )
            raise StepFailed(
                step.split(":")[0], f"{step}: {describe_error(err)}", error_type
            ) from err
        self._attempts[step] = getattr(receipt, "attempt", 1)
        return receipt
