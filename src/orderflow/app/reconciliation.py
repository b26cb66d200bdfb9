"""Client side of the reconciliation: a Temporal Schedule, or one pass on demand."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from orderflow.app.watch import Watchman
from orderflow.store.drift import ReconcileReport
from orderflow.workflows.messages import ReconcileRequest
from orderflow.workflows.reconcile import ReconcileWorkflow

SCHEDULE_ID = "orderflow-reconcile"


def _schedule(task_queue: str, every: timedelta, request: ReconcileRequest) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReconcileWorkflow.run,
            request,
            id=f"{SCHEDULE_ID}-run",
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # Never two passes at once: a slow pass makes the next one wait, not overlap.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_schedule(
    client: Client,
    task_queue: str,
    every: timedelta,
    request: ReconcileRequest | None = None,
    schedule_id: str = SCHEDULE_ID,
) -> ScheduleHandle:
    """Create the reconciliation schedule, or update it to these settings."""
    schedule = _schedule(task_queue, every, request or ReconcileRequest())
    try:
        return await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:
        handle = client.get_schedule_handle(schedule_id)

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace)
        return handle


async def remove_schedule(client: Client, schedule_id: str = SCHEDULE_ID) -> bool:
    """Delete the reconciliation schedule; False if there was none."""
    try:
        await client.get_schedule_handle(schedule_id).delete()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def reconcile_now(
    client: Client,
    task_queue: str,
    request: ReconcileRequest | None = None,
    *,
    stall_after_s: float = 10.0,
) -> ReconcileReport:
    """One pass, now, through a worker (so it runs where the store is), watched: it ends in
    ``NoWorker`` when no worker takes it."""
    workflow_id = f"{SCHEDULE_ID}-manual-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        ReconcileWorkflow.run,
        request or ReconcileRequest(),
        id=workflow_id,
        task_queue=task_queue,
    )
    report: ReconcileReport = await Watchman(client, stall_after_s).wait(
        handle.result(), workflow_id, task_queue
    )
    return report
