"""Reconciliation on a Temporal Schedule: planted drift is reported, and repaired if safe."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from decimal import Decimal

from temporalio.testing import WorkflowEnvironment

from orderflow.app.reconciliation import ensure_schedule
from orderflow.store import Store
from orderflow.store.audit import run_audit
from orderflow.store.drift import ReconcileReport
from orderflow.workflows.messages import ReconcileRequest
from orderflow.workflows.reconcile import ReconcileWorkflow
from tests.workflow.conftest import make_activities, worker_for
from tests.workflow.helpers import an_order, units_held


def plant_drift(store: Store, prefix: str) -> tuple[str, str]:
    """A FAILED order that still holds money and stock; a COMPLETED one with nothing."""
    lost, phantom = f"{prefix}lost-comp", f"{prefix}phantom"
    lines = [
        line
        for line in __import__("orderflow.domain.validation", fromlist=["x"])
        .validate_order(an_order(lost), store.catalog())
        .lines
    ]
    store.charge(lost, Decimal("64.67"), f"{lost}:payment")
    store.reserve(lost, lines)
    store.record_outcome(lost, "FAILED", Decimal("64.67"), "shipment: lost compensation")
    store.record_outcome(phantom, "COMPLETED", Decimal("10.00"), "")
    return lost, phantom


async def test_a_scheduled_pass_repairs_a_failed_order_and_reports_a_phantom_completion(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    lost, phantom = plant_drift(store, order_prefix)
    assert not run_audit(store.engine, order_prefix=order_prefix).ok
    client = temporal_env.client
    async with worker_for(client, task_queue, make_activities(store)):
        schedule = await ensure_schedule(
            client,
            task_queue,
            timedelta(hours=1),
            ReconcileRequest(repair=True),
            schedule_id=f"reconcile-{task_queue}",
        )
        try:
            await schedule.trigger()
            report = await _first_run_result(client, schedule)
        finally:
            await schedule.delete()

    assert any(line.startswith(f"order {lost}: recorded FAILED") for line in report.drift)
    assert any(line.startswith(f"order {phantom}: recorded COMPLETED") for line in report.drift)
    assert report.repaired == [
        f"order {lost}: cancelled 0 shipment(s), released 3 unit(s), voided 0.00, refunded 64.67"
    ]
    assert units_held(store, lost) == 0
    audit = run_audit(store.engine, order_prefix=order_prefix)
    assert [v for v in audit.violations if lost in v] == []  # repaired
    assert [v for v in audit.violations if phantom in v]  # left for a person


async def _first_run_result(client, schedule) -> ReconcileReport:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        actions = (await schedule.describe()).info.recent_actions
        if actions:
            run = actions[0].action
            handle = client.get_workflow_handle_for(
                ReconcileWorkflow.run, run.workflow_id, run_id=run.first_execution_run_id
            )
            return await handle.result()  # type: ignore[no-any-return]
        await asyncio.sleep(0.2)  # the schedule starts its run asynchronously
    raise AssertionError("the triggered reconciliation never started")
