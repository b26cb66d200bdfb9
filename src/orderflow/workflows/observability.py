"""Search attributes and business metrics emitted by the workflow (replay-safe)."""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import SearchAttributeKey

from orderflow.workflows.messages import CompensationAction, OrderResult

#: Keyword search attribute holding the order's status (filter in the UI, `orderflow list`).
ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")


def count_outcome(result: OrderResult) -> None:
    """Count the finished order, its compensations and refunds, labelled by reason.

    Uses the workflow's metric meter, which does not count again during replay.
    """
    meter = workflow.metric_meter()
    reason = result.error_type or ("cancelled" if result.status.value == "CANCELLED" else "none")
    meter.create_counter("orderflow_orders", "Orders finished, by outcome").add(
        1, {"outcome": result.status.value.lower()}
    )
    compensations = meter.create_counter(
        "orderflow_compensations", "Compensations run, by action, reason and result"
    )
    refunds = meter.create_counter("orderflow_refunds", "Refunds of real money, by reason")
    for record in result.compensations:
        compensations.add(
            1, {"action": record.action.value, "reason": reason, "ok": str(record.ok).lower()}
        )
        if record.action is CompensationAction.REFUND_PAYMENT and record.undid_something:
            refunds.add(1, {"reason": reason})
