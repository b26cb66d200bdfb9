"""AfterSaleWorkflow: a refund or a customer return of a delivered order, durably.

A refund pays out at once. A return waits for its items (the ``receive`` update) for as
long as its window lasts, on a durable timer: received, the units go back on the shelves
they shipped from and the refund is paid; not received in time, it expires and nothing is
refunded. The refund retries like a compensation (money owed); a gateway that refuses it
(above what the order kept, a card that takes nothing back) marks it failed, with why.
One workflow per refund or return, ``refund-<id>`` / ``return-<id>``, linked to its order
by the order id in its input and the row in the ``returns`` table.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from orderflow.domain.models import AfterSale, AfterSaleKind, AfterSaleStatus
    from orderflow.workflows.activities import OrderActivities
    from orderflow.workflows.messages import AfterSaleInput, AfterSaleRequest, ReceiveRequest

from orderflow.workflows.saga import describe_error
from orderflow.workflows.steps import run_activity

Acts = OrderActivities


def after_sale_workflow_id(kind: AfterSaleKind, return_id: str) -> str:
    """``refund-<id>`` or ``return-<id>``: one workflow per request id."""
    return f"{kind.value}-{return_id}"


@workflow.defn
class AfterSaleWorkflow:
    """One refund, or one return (wait for the items, restock, refund)."""

    def __init__(self) -> None:
        self._sale: AfterSale | None = None
        self._received: ReceiveRequest | None = None
        self._restocked = False

    @workflow.query
    def status(self) -> AfterSale | None:
        """The refund or return as it stands."""
        return self._sale

    @workflow.update
    async def receive(self, req: ReceiveRequest) -> AfterSale:
        """A return's items arrived: restock them, refund; returns the return once its
        refund is settled."""
        self._received = req
        await workflow.wait_condition(lambda: self._sale is not None and self._sale.settled)
        assert self._sale is not None
        return self._sale

    @receive.validator
    def _validate_receive(self, req: ReceiveRequest) -> None:
        sale = self._sale
        if sale is None or sale.kind is not AfterSaleKind.RETURN:
            raise ValueError("only a return receives items")
        if self._received is not None or sale.status is not AfterSaleStatus.REQUESTED:
            raise ValueError(f"the return is {sale.status.value}; its items were not awaited")

    @workflow.run
    async def run(self, inp: AfterSaleInput) -> AfterSale:
        """Run the refund (or the return, then its refund); returns how it ended."""
        self._sale = inp.sale
        if inp.sale.kind is AfterSaleKind.RETURN:
            try:
                await workflow.wait_condition(
                    lambda: self._received is not None,
                    timeout=timedelta(seconds=inp.window_s),
                )
            except asyncio.TimeoutError:
                self._sale = await self._act(
                    Acts.close_after_sale,
                    AfterSaleRequest(
                        sale=inp.sale,
                        status=AfterSaleStatus.EXPIRED,
                        note="the items did not arrive within the return window",
                    ),
                    inp,
                    "expire the return: no items arrived",
                )
                return self._sale
            assert self._received is not None
            who = self._received.operator or "an operator"
            self._sale = await self._act(
                Acts.restock_return,
                AfterSaleRequest(sale=inp.sale, note=f"received by {who}"),
                inp,
                "put the returned units back on the shelf",
            )
        try:
            self._sale = await self._act(
                Acts.refund_after_sale,
                AfterSaleRequest(sale=self._sale),
                inp,
                f"refund {inp.sale.amount}",
            )
        except ActivityError as err:
            self._sale = await self._act(
                Acts.close_after_sale,
                AfterSaleRequest(
                    sale=inp.sale, status=AfterSaleStatus.FAILED, note=describe_error(err)
                ),
                inp,
                "record that the refund failed",
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._sale

    @staticmethod
    async def _act(
        activity: object, req: AfterSaleRequest, inp: AfterSaleInput, what: str
    ) -> AfterSale:
        sale: AfterSale = await run_activity(activity, req, inp.retries, what)  # type: ignore[arg-type]
        return sale
