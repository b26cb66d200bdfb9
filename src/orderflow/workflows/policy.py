"""RetryOptions -> Temporal RetryPolicy and timeouts (pure; safe inside the sandbox)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from orderflow.workflows.messages import RetryOptions

#: Business errors: retrying cannot change the answer.
NON_RETRYABLE = ["InvalidOrder", "PaymentDeclined", "OutOfStock", "AlreadyCompensated"]


def retry_policy(options: RetryOptions) -> RetryPolicy:
    """The RetryPolicy for one activity call."""
    return RetryPolicy(
        initial_interval=timedelta(milliseconds=options.initial_interval_ms),
        backoff_coefficient=options.backoff,
        maximum_interval=timedelta(milliseconds=options.max_interval_ms),
        maximum_attempts=options.max_attempts,
        non_retryable_error_types=NON_RETRYABLE,
    )


def timeout(options: RetryOptions) -> timedelta:
    """The start-to-close timeout of one attempt."""
    return timedelta(milliseconds=options.attempt_timeout_ms)
