"""Watching an order while a door waits on it: never a silent hang.

A call that waits on a running order (the priced answer, a cancel, a status query, the
outcome) is watched: when the order has made no progress for ``stall_after_s`` because no
worker takes its tasks, or because every worker fails them (a wrong encryption key, a
different version), the wait ends with ``NoWorker`` saying which and what to do.
Progress (a step retrying, an order waiting for review) is not a stall.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from datetime import datetime, timezone
from typing import Any, TypeVar

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import (
    EventType,
    PendingActivityState,
    PendingWorkflowTaskState,
    TaskQueueType,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    GetWorkflowExecutionHistoryRequest,
)
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    TerminatedError,
)
from temporalio.exceptions import (
    TimeoutError as WorkflowTimeoutError,
)
from temporalio.service import RPCError

from orderflow.app.errors import NoWorker
from orderflow.domain.status import OrderStatus
from orderflow.workflows.messages import OrderInput, OrderResult

T = TypeVar("T")

#: Error types the order workflow ends with when it fails visibly (the result as details).
VISIBLE_FAILURES = ("OrderFailed", "OrderCancelled")
#: A poller seen within this long is taken as alive (idle workers re-poll every minute).
POLLER_FRESH_S = 70.0
#: The first look at an order a door waits on (a worker answers in milliseconds).
FIRST_LOOK_S = 2.0


class Watchman:
    """Waits on calls about one order while checking that the order can make progress."""

    def __init__(self, client: Client, stall_after_s: float = 10.0) -> None:
        self.client = client
        self.stall_after_s = stall_after_s

    async def wait(self, call: Awaitable[T], workflow_id: str, task_queue: str) -> T:
        """Await ``call``; look at the order after ``FIRST_LOOK_S`` (no worker at all is
        certain at once) and then every ``stall_after_s``; raise ``NoWorker`` once it is
        stalled (the call is then cancelled)."""
        task = asyncio.ensure_future(call)
        try:
            done, _ = await asyncio.wait({task}, timeout=min(FIRST_LOOK_S, self.stall_after_s))
            if done:
                return task.result()
            if not await self.has_live_poller_safe(workflow_id, task_queue):
                problem = await self.stalled(workflow_id, task_queue, no_poller=True)
                if problem is not None:
                    raise problem
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.stall_after_s)
                if done:
                    return task.result()
                problem = await self.stalled(workflow_id, task_queue)
                if problem is not None:
                    raise problem
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    async def has_live_poller_safe(self, workflow_id: str, task_queue: str) -> bool:
        """``has_live_poller`` for the order's task queue; True when it cannot be told."""
        try:
            description = await self.client.get_workflow_handle(workflow_id).describe()
            queue = description.raw_description.execution_config.task_queue.name or task_queue
            return await self.has_live_poller(queue)
        except RPCError:
            return True

    async def stalled(
        self, workflow_id: str, task_queue: str, *, no_poller: bool = False
    ) -> NoWorker | None:
        """Why the order makes no progress, or None when it does (or has finished).

        ``no_poller``: nobody has polled its task queue for a minute, so anything it waits
        for counts as stalled at once.
        """
        try:
            description = await self.client.get_workflow_handle(workflow_id).describe()
        except RPCError:
            return None  # not started yet, or Temporal is away: the call will say so
        if description.status is not WorkflowExecutionStatus.RUNNING:
            return None
        raw = description.raw_description
        queue = raw.execution_config.task_queue.name or task_queue
        order_id = workflow_id.removeprefix("order-")
        task = raw.pending_workflow_task if raw.HasField("pending_workflow_task") else None
        if task is not None and task.attempt > 1:
            failure = await self.last_task_failure(workflow_id)
            return NoWorker(
                f"order {order_id} is accepted but cannot run: the worker(s) on task queue "
                f"{queue!r} fail its workflow task ({failure}); a worker needs the same "
                "encryption keys and version as the client",
                task_queue=queue,
                accepted=True,
            )
        waiting = []
        if (
            task is not None
            and task.state == PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED
        ):
            waiting.append(_age(task.scheduled_time.ToDatetime(timezone.utc)))
        for activity in raw.pending_activities:
            if activity.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED:
                due = activity.next_attempt_schedule_time or activity.scheduled_time
                if due.seconds:
                    waiting.append(_age(due.ToDatetime(timezone.utc)))
        if waiting and no_poller:
            return self._no_worker(order_id, queue)
        if not waiting or max(waiting) < self.stall_after_s:
            if not waiting and not await self.has_live_poller(queue):
                # Nothing scheduled (a query waits on no task) and nobody polls.
                return self._no_worker(order_id, queue)
            return None
        return self._no_worker(order_id, queue)

    def no_worker_for(self, queue: str) -> NoWorker:
        """The error an order accepted on ``queue`` meets while no worker polls it."""
        return NoWorker(
            f"no worker polls task queue {queue!r} (start one with `orderflow worker "
            f"--task-queue {queue}`); the order runs as soon as one does",
            task_queue=queue,
            accepted=True,
        )

    def _no_worker(self, order_id: str, queue: str) -> NoWorker:
        return NoWorker(
            f"order {order_id} is accepted but nothing processes it: no worker polls task "
            f"queue {queue!r} (start one with `orderflow worker --task-queue {queue}`); it "
            "continues as soon as one does",
            task_queue=queue,
            accepted=True,
        )

    async def has_live_poller(self, task_queue: str) -> bool:
        """True when a worker polled ``task_queue`` within the last ``POLLER_FRESH_S``."""
        response = await self.client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=self.client.namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        return any(
            _age(poller.last_access_time.ToDatetime(timezone.utc)) < POLLER_FRESH_S
            for poller in response.pollers
        )

    async def last_task_failure(self, workflow_id: str) -> str:
        """The message of the order's last failed workflow task (what the worker said)."""
        history = await self.client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=self.client.namespace,
                execution=WorkflowExecution(workflow_id=workflow_id),
                maximum_page_size=200,
            )
        )
        message = "no reason recorded"
        for event in history.history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                failure = event.workflow_task_failed_event_attributes.failure
                cause = failure.cause.message if failure.HasField("cause") else ""
                message = failure.message + (f": {cause}" if cause else "")
        return message[:300]

    async def first_input(self, workflow_id: str) -> OrderInput | None:
        """The input the order's workflow started with, from its first history event."""
        history = await self.client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=self.client.namespace,
                execution=WorkflowExecution(workflow_id=workflow_id),
                maximum_page_size=1,
            )
        )
        if not history.history.events:
            return None
        started = history.history.events[0].workflow_execution_started_event_attributes
        if not started.input.payloads:
            return None
        values = await self.client.data_converter.decode(started.input.payloads, [OrderInput])
        value = values[0] if values else None
        return value if isinstance(value, OrderInput) else None

    @staticmethod
    def result_of_failure(order_id: str, err: WorkflowFailureError) -> OrderResult:
        """The order's result when its workflow did not complete normally.

        A failed or cancelled order ends its workflow as failed with its result attached
        (so Temporal's UI shows it as failed); a workflow cancelled or terminated through
        Temporal gets a result saying so. Any other failure is a crashed workflow (a bug)
        and is raised as it is.
        """
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type in VISIBLE_FAILURES:
            detail = cause.details[0] if cause.details else None
            if detail is not None:
                return OrderResult.model_validate(detail)
        if isinstance(cause, CancelledError):
            return OrderResult(
                order_id=order_id,
                status=OrderStatus.CANCELLED,
                reason="cancelled through Temporal",
            )
        if isinstance(cause, (TerminatedError, WorkflowTimeoutError)):
            return OrderResult(
                order_id=order_id,
                status=OrderStatus.NEEDS_ATTENTION,
                reason=f"workflow {type(cause).__name__.removesuffix('Error').lower()} in "
                "Temporal before it finished; nothing was compensated (run `orderflow "
                "reconcile`)",
            )
        raise err


async def result_of(handle: WorkflowHandle[Any, OrderResult]) -> OrderResult:
    """Wait for the order's result, whether its workflow completed or failed visibly."""
    try:
        return await handle.result()
    except WorkflowFailureError as err:
        return Watchman.result_of_failure(handle.id.removeprefix("order-"), err)


def _age(moment: datetime) -> float:
    return (datetime.now(timezone.utc) - moment).total_seconds()
