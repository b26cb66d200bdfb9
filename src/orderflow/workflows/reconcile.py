"""ReconcileWorkflow: run by a Temporal Schedule; reports (and safely repairs) drift."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from orderflow.store.drift import ReconcileReport
    from orderflow.workflows.activities import OrderActivities
    from orderflow.workflows.messages import ReconcileRequest


@workflow.defn
class ReconcileWorkflow:
    """One reconciliation pass."""

    @workflow.run
    async def run(self, req: ReconcileRequest) -> ReconcileReport:
        """Compare the ledger, reservations and shipments with order outcomes."""
        report: ReconcileReport = await workflow.execute_activity_method(
            OrderActivities.reconcile,
            req,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(maximum_attempts=5),
        )
        for line in report.drift:
            workflow.logger.warning("reconcile: %s", line)
        for line in report.repaired:
            workflow.logger.warning("reconcile repaired: %s", line)
        return report
