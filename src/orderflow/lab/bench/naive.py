"""The naive Temporal version a learner would write from the spec.

Every step is an activity, the total included, called in sequence with a timeout and the
default retry policy; no saga, no status query, no search attribute. It runs on a worker
with default settings (see ``variants.naive_worker``). Kept as a baseline: orderflow's
workflow should not be slower than this.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from orderflow.domain.models import Order
    from orderflow.lab.bench.naive_activities import NaiveActivities

STEP_TIMEOUT = timedelta(seconds=30)


@workflow.defn(name="NaiveOrder")
class NaiveOrderWorkflow:
    """Validate, total, charge, reserve, quote shipping, schedule the shipment."""

    @workflow.run
    async def run(self, order: Order) -> str:
        validated = await workflow.execute_activity_method(
            NaiveActivities.validate_order, order, start_to_close_timeout=STEP_TIMEOUT
        )
        total = await workflow.execute_activity_method(
            NaiveActivities.calculate_total, validated, start_to_close_timeout=STEP_TIMEOUT
        )
        await workflow.execute_activity_method(
            NaiveActivities.process_payment,
            args=[order.order_id, total.total, order.payment_token],
            start_to_close_timeout=STEP_TIMEOUT,
        )
        await workflow.execute_activity_method(
            NaiveActivities.reserve_inventory, validated, start_to_close_timeout=STEP_TIMEOUT
        )
        quote = await workflow.execute_activity_method(
            NaiveActivities.calculate_shipping, validated, start_to_close_timeout=STEP_TIMEOUT
        )
        receipt = await workflow.execute_activity_method(
            NaiveActivities.schedule_shipment, quote, start_to_close_timeout=STEP_TIMEOUT
        )
        return receipt.tracking_number
