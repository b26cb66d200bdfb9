"""Slow calls that trip the attempt timeout: the same activity runs twice at once."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from temporalio.testing import WorkflowEnvironment

from orderflow.adapters.faults import Fault, ScriptedFaults
from orderflow.app.orders import start_order
from orderflow.app.watch import result_of
from orderflow.domain.status import OrderStatus
from orderflow.store import Store
from orderflow.store.audit import run_audit
from orderflow.workflows.messages import ACTIVITY_MODES, RetryOptions
from tests.workflow.conftest import FAST, STOCK, make_activities, worker_for
from tests.workflow.helpers import an_order, ledger, units_held

#: Attempts time out after 0.5 s; a slow call hangs for 2 s and then still acts.
TIGHT = FAST.model_copy(
    update={
        "steps": RetryOptions(
            max_attempts=3, initial_interval_ms=10, max_interval_ms=20, attempt_timeout_ms=500
        )
    }
)
SLOW, DOWN = Fault.SLOW, Fault.UNAVAILABLE


async def late_answer(caplog: pytest.LogCaptureFixture, text: str) -> None:
    """Wait (bounded) until the hung call has woken up and acted: that is the point."""
    deadline = time.monotonic() + 30
    while text not in caplog.text:
        assert time.monotonic() < deadline, f"the slow call never answered: {text!r}"
        await asyncio.sleep(0.1)


async def test_a_timed_out_authorization_that_completes_late_does_not_hold_twice(
    temporal_env: WorkflowEnvironment,
    task_queue: str,
    order_prefix: str,
    store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    order_id = f"{order_prefix}1"
    acts = make_activities(store, payment=ScriptedFaults([SLOW], slow_seconds=2.0))
    async with worker_for(temporal_env.client, task_queue, acts):
        handle = await start_order(temporal_env.client, an_order(order_id), task_queue, TIGHT)
        result = await result_of(handle)
        await late_answer(caplog, "payment gateway answered a call only after")

    assert result.status is OrderStatus.COMPLETED
    assert result.attempts["payment"] >= 2
    assert [kind for kind, _ in ledger(store, order_id)] == ["authorize", "capture"]
    assert run_audit(store.engine, order_prefix=order_id).ok


async def test_a_reservation_that_lands_after_its_compensation_is_refused(
    temporal_env: WorkflowEnvironment,
    task_queue: str,
    order_prefix: str,
    store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    order_id = f"{order_prefix}1"
    # Allocation answers; the first reservation hangs 6 s (its attempt times out), the
    # retries find the system down, the order fails and releases — then the hung call
    # wakes up and tries to hold the stock. The release's tombstone refuses it.
    acts = make_activities(
        store, inventory=ScriptedFaults([None, SLOW, DOWN, DOWN], slow_seconds=6.0)
    )
    async with worker_for(temporal_env.client, task_queue, acts):
        handle = await start_order(temporal_env.client, an_order(order_id), task_queue, TIGHT)
        result = await result_of(handle)
        await late_answer(caplog, "inventory system answered a call only after")

    assert result.status is OrderStatus.FAILED
    assert result.failed_step == "inventory"
    assert units_held(store, order_id) == 0
    assert run_audit(store.engine, order_prefix=order_id).ok
    # The late call did land (after the release), and the tombstone turned it away:
    # without it, these units would be held for a failed order.
    assert store.available()["TEE-BLACK-M"] == STOCK


@pytest.mark.parametrize("mode", ACTIVITY_MODES)
async def test_a_step_that_times_out_on_every_attempt_reports_all_its_attempts(
    temporal_env: WorkflowEnvironment,
    task_queue: str,
    order_prefix: str,
    store: Store,
    caplog: pytest.LogCaptureFixture,
    mode: str,
) -> None:
    """The shipping quote is a local activity in mixed and local mode: its timeouts must
    read exactly like a regular activity's (3 attempts, retries exhausted)."""
    caplog.set_level(logging.INFO)
    order_id = f"{order_prefix}1"
    options = TIGHT.model_copy(update={"activity_mode": mode})
    acts = make_activities(store, shipping=ScriptedFaults([SLOW] * 3, slow_seconds=0.8))
    async with worker_for(temporal_env.client, task_queue, acts):
        handle = await start_order(temporal_env.client, an_order(order_id), task_queue, options)
        result = await result_of(handle)
        await late_answer(caplog, "carrier answered a call only after")

    assert result.status is OrderStatus.FAILED
    assert result.failed_step == "shipping_quote"
    assert result.attempts["shipping_quote:WH-EAST"] == 3
    assert "TimeoutError" in result.reason and "retries exhausted" in result.reason
    assert [c.action for c in result.compensations] == ["release_inventory", "release_payment"]
    assert units_held(store, order_id) == 0
    assert run_audit(store.engine, order_prefix=order_id).ok
