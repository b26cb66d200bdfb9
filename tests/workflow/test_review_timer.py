"""The review timer: a risky order nobody decides on is cancelled after 24 hours.

Runs on the dev server's per-workflow time skipping (start_time_skipping_v2), so the
24-hour durable timer fires in virtual time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from orderflow.app.orders import start_order
from orderflow.app.watch import result_of
from orderflow.domain.status import OrderStatus
from orderflow.store import Store
from orderflow.temporal.devserver import search_attribute_args, temporal_binary
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
    assert result.compensations == []
    assert ledger(store, order_id) == []  # nothing was ever charged
    timers = [e for e in history.events if e.HasField("timer_started_event_attributes")]
    assert len(timers) == 1
    fired = timers[0].timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
    assert fired.total_seconds() == DAY
    first, last = history.events[0].event_time, history.events[-1].event_time
    assert (last.ToDatetime() - first.ToDatetime()).total_seconds() >= DAY  # virtual time
