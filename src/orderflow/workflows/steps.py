"""Running the order's steps: one activity with its timeout and RetryPolicy, as a regular
or a local activity, stopping early when a cancel arrives.

Workflow code (deterministic): OrderWorkflow owns a ``StepRunner`` and asks it to run each
step; the runner keeps the step running now and every step's attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    FailureError,
    RetryState,
)
from temporalio.exceptions import (
    TimeoutError as ActivityTimeoutError,
)

with workflow.unsafe.imports_passed_through():
    from orderflow.workflows.messages import InvalidField, RetryOptions, Step
    from orderflow.workflows.policy import retry_policy, timeout

# Workflow code: imported inside the sandbox, like order.py.
from orderflow.workflows.saga import attempts_of, describe_error


def run_activity(
    activity: Callable[..., Any],
    arg: Any,
    options: RetryOptions,
    summary: str,
    *,
    policy: RetryPolicy | None = None,
    local: bool = False,
) -> Awaitable[Any]:
    """Schedule ``activity`` as a regular or a local activity, with the step's policy.

    Either way a failure arrives as an ``ActivityError`` whose cause is the activity's error.
    """
    policy = policy or retry_policy(options)
    if local:
        return _local_activity(activity, arg, options, summary, policy)
    return workflow.execute_activity_method(
        activity,
        arg,
        start_to_close_timeout=timeout(options),
        retry_policy=policy,
        summary=summary,
    )


async def _local_activity(
    activity: Callable[..., Any],
    arg: Any,
    options: RetryOptions,
    summary: str,
    policy: RetryPolicy,
) -> Any:
    try:
        return await workflow.execute_local_activity_method(
            activity,
            arg,
            start_to_close_timeout=timeout(options),
            retry_policy=policy,
            summary=summary,
        )
    except ActivityError as err:
        if not isinstance(err.cause, ActivityTimeoutError):
            raise  # cancellation: already shaped like a regular activity's
        # A timed-out local activity arrives wrapped, but as CANCEL_REQUESTED even after
        # its last attempt: report it as a regular activity's would be.
        raise _as_activity_error(activity, RetryState.MAXIMUM_ATTEMPTS_REACHED) from err.cause
    except FailureError as err:
        # A local activity's own failure arrives unwrapped (the activity's error).
        non_retryable = isinstance(err, ApplicationError) and (
            err.non_retryable or err.type in (policy.non_retryable_error_types or ())
        )
        raise _as_activity_error(
            activity,
            RetryState.NON_RETRYABLE_FAILURE
            if non_retryable
            else RetryState.MAXIMUM_ATTEMPTS_REACHED,
        ) from err


def _as_activity_error(activity: Callable[..., Any], state: RetryState) -> ActivityError:
    return ActivityError(
        "local activity failed",
        scheduled_event_id=0,
        started_event_id=0,
        identity="",
        activity_type=getattr(activity, "__name__", "local activity"),
        activity_id="",
        retry_state=state,
    )


def invalid_field_of(cause: BaseException | None) -> InvalidField | None:
    """The ``{"field", "rule"}`` an InvalidOrder activity error carries in its details."""
    if not isinstance(cause, ApplicationError) or not cause.details:
        return None
    detail = cause.details[0]
    if isinstance(detail, dict) and isinstance(detail.get("field"), str):
        return InvalidField(field=detail["field"], rule=str(detail.get("rule", "")))
    return None


def _consume(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


class StepFailed(Exception):
    """A step failed for good (business error or retries exhausted); ``invalid`` names the
    field and rule of an invalid order (the activity's error details, as data)."""

    def __init__(
        self, step: Step, reason: str, error_type: str, invalid: InvalidField | None = None
    ) -> None:
        super().__init__(reason)
        self.step = step
        self.reason = reason
        self.error_type = error_type
        self.invalid = invalid


class Stopped(Exception):
    """The order was cancelled on request or by the review timer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StepRunner:
    """Runs the order's steps and remembers the step running now and each step's attempts."""

    def __init__(self, stop_reason: Callable[[], str | None]) -> None:
        #: The key of the step running now (``inventory:WH-EAST``; "" when none).
        self.current = ""
        #: Attempts per step key, once the step has finished (or failed for good).
        self.attempts: dict[str, int] = {}
        #: Steps run as local activities (from the order's activity mode).
        self.local_steps: frozenset[Step] = frozenset()
        self._stop_reason = stop_reason

    def is_local(self, step: Step) -> bool:
        """Whether ``step`` runs as a local activity in this order's activity mode."""
        return step in self.local_steps

    async def run(
        self,
        step: Step,
        activity: Callable[..., Any],
        arg: Any,
        options: RetryOptions,
        summary: str,
        *,
        warehouse: str | None = None,
    ) -> Any:
        """Run one activity with its timeout and RetryPolicy; stop early on a cancel request.

        A step of ``local_steps`` runs as a local activity: in this worker, recorded as one
        marker when the workflow task completes (no activity task on the server); same
        policy, same timeout per attempt.

        Raises:
            Stopped: a cancel arrived before or while the step ran.
            StepFailed: the step failed for good (business error or retries exhausted).
        """
        stop = self._stop_reason()
        if stop is not None:
            raise Stopped(stop)
        key = step.key(warehouse)
        self.current = key
        policy = retry_policy(options)
        task = asyncio.ensure_future(
            run_activity(activity, arg, options, summary, policy=policy, local=self.is_local(step))
        )
        try:
            await workflow.wait_condition(lambda: task.done() or self._stop_reason() is not None)
        except asyncio.CancelledError:
            task.cancel()  # cancelled through Temporal: stop the attempt too
            task.add_done_callback(_consume)  # its own cancellation error is expected
            raise
        if not task.done():
            # Cancel the running attempt; its compensation is registered, and a late effect
            # is refused by the tombstone the compensation leaves.
            task.cancel()
            with contextlib.suppress(ActivityError, asyncio.CancelledError):
                await task
            raise Stopped(self._stop_reason() or "cancelled on request")
        try:
            receipt = task.result()
        except ActivityError as err:
            if isinstance(err.cause, CancelledError):
                raise asyncio.CancelledError() from err
            self.attempts[key] = attempts_of(err, policy)
            cause = err.cause
            error_type = (
                (cause.type or "ApplicationError")
                if isinstance(cause, ApplicationError)
                else type(cause).__name__
            )
            raise StepFailed(
                step, f"{key}: {describe_error(err)}", error_type, invalid_field_of(cause)
            ) from err
        self.attempts[key] = getattr(receipt, "attempt", 1)
        return receipt
