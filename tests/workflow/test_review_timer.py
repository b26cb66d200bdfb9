"""Durable timers in virtual time: a risky order nobody decides on is cancelled after 24
hours; an order waiting past its card hold's expiry re-authorizes (or, declined, is
cancelled).

Runs on the dev server's per-workflow time skipping (start_time_skipping_v2), so days-long
durable timers fire in virtual time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from orderflow.app.orders import start_order
from orderflow.app.watch import result_of
from orderflow.domain.status import OrderStatus
from orderflow.store import Store
from orderflow.store.audit import run_audit
from orderflow.temporal.devserver import search_attribute_args, temporal_binary
from orderflow.workflows.messages import ReviewDecision
from orderflow.workflows.order import OrderWorkflow
from tests.workflow.conftest import FAST, make_activities, worker_for
from tests.workflow.helpers import an_order, ledger

DAY = 24 * 3600.0


@pytest.fixture(scope="module")
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping_v2(
        dev_server_existing_path=str(temporal_binary()),
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
        dev_server_extra_args=[
            "--dynamic-config-value",
            "frontend.WorkflowTimeSkippingEnabled=true",
            *search_attribute_args(),
        ],
    )
    try:
        yield env
    finally:
        await env.shutdown()


async def test_an_unreviewed_risky_order_is_cancelled_after_its_review_window(
    skipping_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    options = FAST.model_copy(
        update={"review_threshold": Decimal("10.00"), "review_timeout_s": DAY}
    )
    async with worker_for(skipping_env.client, task_queue, make_activities(store)):
        handle = await start_order(skipping_env.client, an_order(order_id), task_queue, options)
        result = await result_of(handle)
        history = await handle.fetch_history()

    assert result.status is OrderStatus.CANCELLED
    assert result.reason == "not reviewed within 86400s; cancelled automatically"
    assert [c.action for c in result.compensations] == ["release_payment"]
    # The card was only ever held: the hold is voided, nothing was charged.
    assert [kind for kind, _ in ledger(store, order_id)] == ["authorize", "void"]
    timers = [e for e in history.events if e.HasField("timer_started_event_attributes")]
    waits = sorted(
        t.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
        for t in timers
    )
    # The review window, and the hold's keeper (six days on; it never fired).
    assert waits[0] == DAY and abs(waits[1] - 6 * DAY) < 60
    first, last = history.events[0].event_time, history.events[-1].event_time
    assert (last.ToDatetime() - first.ToDatetime()).total_seconds() >= DAY  # virtual time


async def authorizations(store: Store, order_id: str, at_least: int) -> None:
    """Wait (a few seconds of wall time at most) until the order has been authorized
    ``at_least`` times; the virtual clock runs meanwhile."""
    for _ in range(600):
        if sum(1 for kind, _ in ledger(store, order_id) if kind == "authorize") >= at_least:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not authorized {at_least} times: {ledger(store, order_id)}")


async def test_an_order_waiting_past_its_holds_expiry_is_reauthorized_and_captures_the_new_hold(
    skipping_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    # Waits up to 100 days for review; the card's hold lasts 7 and is renewed at day 6.
    options = FAST.model_copy(
        update={
            "review_threshold": Decimal("10.00"),
            "review_timeout_s": 100 * DAY,
            "authorization_ttl_s": 7 * DAY,
        }
    )
    async with worker_for(skipping_env.client, task_queue, make_activities(store)):
        handle = await start_order(skipping_env.client, an_order(order_id), task_queue, options)
        await authorizations(store, order_id, at_least=2)
        await handle.execute_update(
            OrderWorkflow.review, ReviewDecision(approved=True, reviewer="sam")
        )
        result = await result_of(handle)

    assert result.status is OrderStatus.COMPLETED
    assert result.total is not None
    rows = ledger(store, order_id)
    holds = [kind for kind, _ in rows].count("authorize")
    assert holds >= 2
    # Every replaced hold was voided; the last one was captured, in full, once.
    assert [kind for kind, _ in rows].count("void") == holds - 1
    assert [(kind, amount) for kind, amount in rows if kind == "capture"] == [
        ("capture", result.total.total)
    ]
    money = store.money_of(order_id)
    assert money.captured == result.total.total and money.kept == result.total.total
    assert result.authorization is not None
    assert money.holds[-1].reference != money.holds[0].reference
    assert run_audit(store.engine, order_prefix=order_id).ok


async def test_a_declined_reauthorization_cancels_the_waiting_order_and_voids_its_hold(
    skipping_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    options = FAST.model_copy(
        update={"review_threshold": Decimal("10.00"), "review_timeout_s": 100 * DAY}
    )
    async with worker_for(skipping_env.client, task_queue, make_activities(store)):
        handle = await start_order(
            skipping_env.client, an_order(order_id, "tok_reauth_declined"), task_queue, options
        )
        result = await result_of(handle)

    assert result.status is OrderStatus.CANCELLED
    assert "re-authorization failed" in result.reason and "PaymentDeclined" in result.reason
    assert [kind for kind, _ in ledger(store, order_id)] == ["authorize", "void"]
    assert [c.action for c in result.compensations] == ["release_payment"]
    assert run_audit(store.engine, order_prefix=order_id).ok


async def test_a_return_whose_items_never_arrive_expires_after_its_window_refunding_nothing(
    skipping_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    from orderflow.app.aftersale import ReturnCreate
    from orderflow.app.orders import OrderService
    from orderflow.domain.models import AfterSaleStatus

    order_id = f"{order_prefix}1"
    orders = OrderService(skipping_env.client, store, task_queue, FAST, return_window_s=30 * DAY)
    async with worker_for(skipping_env.client, task_queue, make_activities(store)):
        result = await result_of(
            await start_order(skipping_env.client, an_order(order_id), task_queue, FAST)
        )
        sale, _ = await orders.after_sales.open_return(
            order_id,
            ReturnCreate(reason="changed my mind", lines=[{"sku": "MUG-LOGO", "quantity": 1}]),
        )
        ended = await orders.after_sales.wait(sale)

    assert result.status is OrderStatus.COMPLETED
    assert ended.status is AfterSaleStatus.EXPIRED
    assert "did not arrive within the return window" in ended.note
    assert [kind for kind, _ in ledger(store, order_id)] == ["authorize", "capture"]
    assert run_audit(store.engine, order_prefix=order_id).ok
