"""Refunds and returns after delivery, on a real dev server: by line and by amount, at most
what the order kept, once per id; a return waits for its items, restocks them and refunds.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from temporalio.testing import WorkflowEnvironment

from orderflow.adapters.faults import Fault, ScriptedFaults
from orderflow.app.aftersale import ReceiveCreate, RefundCreate, ReturnCreate, parse
from orderflow.app.errors import ConflictError, OrderRejected
from orderflow.app.orders import OrderService, start_order
from orderflow.app.watch import result_of
from orderflow.domain.models import AfterSaleStatus
from orderflow.domain.status import OrderStatus
from orderflow.store import Store
from orderflow.store.audit import run_audit
from tests.workflow.conftest import FAST, STOCK, make_activities, worker_for
from tests.workflow.helpers import an_order, ledger

TAX = Decimal("1.08")


def service(env: WorkflowEnvironment, store: Store, task_queue: str) -> OrderService:
    return OrderService(env.client, store, task_queue, FAST, stall_after_s=30)


async def completed(env: WorkflowEnvironment, task_queue: str, order_id: str) -> Decimal:
    handle = await start_order(env.client, an_order(order_id), task_queue, FAST)
    result = await result_of(handle)
    assert result.status is OrderStatus.COMPLETED and result.total is not None
    return result.total.total


async def test_a_partial_refund_by_line_pays_back_that_lines_goods_and_tax_once(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    orders = service(temporal_env, store, task_queue)
    mug = store.catalog()["MUG-LOGO"].unit_price
    # The refund's first answer is lost: the gateway paid it, the retry must not pay again.
    acts = make_activities(store, payment=ScriptedFaults([None, None, Fault.LOST_RESPONSE]))
    async with worker_for(temporal_env.client, task_queue, acts):
        total = await completed(temporal_env, task_queue, order_id)
        ask = RefundCreate(
            reason="mug arrived chipped", lines=[{"sku": "MUG-LOGO", "quantity": 1}], refund_id="r1"
        )
        sale, new = await orders.after_sales.refund(order_id, ask)
        done = await orders.after_sales.wait(sale)
        again, new_again = await orders.after_sales.refund(order_id, ask)
        state = await orders.status(order_id)

    assert new and not new_again and again.return_id == "r1"
    assert done.status is AfterSaleStatus.REFUNDED and done.amount == (mug * TAX).quantize(mug)
    assert ledger(store, order_id) == [
        ("authorize", total),
        ("capture", total),
        ("refund", done.amount),
    ]
    assert state.money is not None
    assert state.money.captured == total and state.money.refunded == done.amount
    assert state.money.kept == total - done.amount
    assert [(r.return_id, r.status) for r in state.returns] == [("r1", AfterSaleStatus.REFUNDED)]
    assert run_audit(store.engine, order_prefix=order_id).ok


async def test_a_refund_above_what_is_left_is_refused_naming_the_amount(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    orders = service(temporal_env, store, task_queue)
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        total = await completed(temporal_env, task_queue, order_id)
        with pytest.raises(OrderRejected) as above:
            await orders.after_sales.refund(
                order_id, RefundCreate(reason="goodwill", amount=total + Decimal("0.01"))
            )
        with pytest.raises(OrderRejected) as unknown:
            await orders.after_sales.refund(
                order_id, RefundCreate(reason="x", lines=[{"sku": "CAP-NAVY", "quantity": 1}])
            )
        first, _ = await orders.after_sales.refund(
            order_id, RefundCreate(reason="goodwill", amount=Decimal("10.00"))
        )
        await orders.after_sales.wait(first)
        full, _ = await orders.after_sales.refund(order_id, RefundCreate(reason="all of it"))
        await orders.after_sales.wait(full)
        with pytest.raises(ConflictError) as nothing_left:
            await orders.after_sales.refund(order_id, RefundCreate(reason="more"))

    assert above.value.field == "amount" and f"at most {total}" in above.value.rule
    assert unknown.value.field == "lines[0].sku"
    assert full.amount == total - Decimal("10.00")
    assert "nothing left to refund" in str(nothing_left.value)
    assert store.money_of(order_id).kept == 0
    assert run_audit(store.engine, order_prefix=order_id).ok


async def test_a_return_waits_for_its_items_then_restocks_and_refunds_them(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    orders = service(temporal_env, store, task_queue)
    tee = store.catalog()["TEE-BLACK-M"].unit_price
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        await completed(temporal_env, task_queue, order_id)
        sale, _ = await orders.after_sales.open_return(
            order_id,
            ReturnCreate(reason="too small", lines=[{"sku": "TEE-BLACK-M", "quantity": 2}]),
        )
        waiting = await orders.status(order_id)
        before = store.available()["TEE-BLACK-M"]
        with pytest.raises(ConflictError) as twice:
            await orders.after_sales.open_return(
                order_id,
                ReturnCreate(reason="again", lines=[{"sku": "TEE-BLACK-M", "quantity": 1}]),
            )
        received = await orders.after_sales.receive(sale.return_id, ReceiveCreate(operator="sam"))
        with pytest.raises(ConflictError) as late:
            await orders.after_sales.receive(sale.return_id, ReceiveCreate())

    assert [r.status for r in waiting.returns] == [AfterSaleStatus.REQUESTED]
    assert "already refunded or returned" in str(twice.value)
    assert received.status is AfterSaleStatus.REFUNDED
    assert received.amount == (tee * 2 * TAX).quantize(tee)
    assert store.available()["TEE-BLACK-M"] == before + 2 == STOCK  # back on the shelf
    assert ledger(store, order_id)[-1] == ("refund", received.amount)
    assert "awaits no items" in str(late.value)
    assert run_audit(store.engine, order_prefix=order_id).ok


async def test_only_a_completed_order_is_refunded(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    orders = service(temporal_env, store, task_queue)
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        handle = await start_order(
            temporal_env.client, an_order(order_id, token="tok_declined"), task_queue, FAST
        )
        await result_of(handle)
        with pytest.raises(ConflictError) as refused:
            await orders.after_sales.refund(order_id, RefundCreate(reason="x"))

    assert "is FAILED: only a COMPLETED (delivered) order can be refunded" in str(refused.value)
    assert ledger(store, order_id) == []


def test_refund_requests_are_read_strictly_naming_each_field() -> None:
    with pytest.raises(OrderRejected) as bad:
        parse(RefundCreate, {"reason": " ", "amount": "1.001", "extra": 1}, "refund")
    fields = {e.field for e in bad.value.errors}
    assert fields == {"reason", "amount", "extra"}
    with pytest.raises(OrderRejected) as bad_id:
        parse(RefundCreate, {"reason": "x", "refund_id": "a b"}, "refund")
    assert bad_id.value.field == "refund_id" and "letters, digits" in bad_id.value.rule
