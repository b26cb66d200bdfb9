"""Search attributes and business metrics emitted by the workflow (replay-safe)."""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import SearchAttributeKey

from orderflow.domain.status import RESTING, WAITING, OrderStatus
from orderflow.workflows.messages import (
    CompensationAction,
    OrderOptions,
    OrderResult,
    StatusUpdates,
)

#: Keyword search attribute holding the order's status (filter in the UI, `orderflow list`).
ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")


class StatusBoard:
    """The order's status, and the OrderStatus search attribute written as options say."""

    def __init__(self) -> None:
        self.status = OrderStatus.RECEIVED
        #: The search attribute's value (RECEIVED, set by the client at the start; none in
        #: ``waits`` mode, where the client sets nothing).
        self._published: OrderStatus | None = OrderStatus.RECEIVED
        self.options: OrderOptions | None = None

    def start(self, options: OrderOptions) -> None:
        """Take the order's options; in ``waits`` mode the client set no value at the start."""
        self.options = options
        if options.status_updates is StatusUpdates.WAITS:
            self._published = None

    def set(self, status: OrderStatus) -> None:
        """Move to ``status``; publish it unless the options say a passing one need not be."""
        self.status = status
        options = self.options
        if options is None or not options.status_search_attribute:
            return
        if options.status_updates is StatusUpdates.WAITS:
            self._publish_waits(status)
            return
        if (
            options.status_updates is StatusUpdates.RESTING
            and status not in RESTING
            and self._published not in RESTING
        ):
            return  # a passing status: the query shows it, the search attribute need not
        workflow.upsert_search_attributes([ORDER_STATUS.value_set(status.value)])
        self._published = status

    def _publish_waits(self, status: OrderStatus) -> None:
        """``waits``: the attribute holds a wait or a failure, and nothing otherwise."""
        if status in WAITING:
            if status is not self._published:
                workflow.upsert_search_attributes([ORDER_STATUS.value_set(status.value)])
                self._published = status
        elif self._published is not None:
            # The wait is over (a reviewer approved): the order is in progress again.
            workflow.upsert_search_attributes([ORDER_STATUS.value_unset()])
            self._published = None


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
        refunded = record.action is CompensationAction.REFUND_PAYMENT or (
            record.action is CompensationAction.RELEASE_PAYMENT
            and record.detail.startswith("refunded")
        )
        if refunded and record.undid_something:
            refunds.add(1, {"reason": reason})
