"""The OrderStatus search attribute: what the Web UI and ``orderflow list --status`` filter on.

``resting`` (the default) writes it only where an order can stay (review, unwinding, final);
``every`` writes every status change. Each write is a history event and a visibility write
on the server, so ``resting`` is the cheaper one; neither may ever leave a stale wait behind.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.converter import decode_typed_search_attributes
from temporalio.testing import WorkflowEnvironment

from orderflow.app.orders import start_order
from orderflow.app.watch import result_of
from orderflow.domain.models import LineItem
from orderflow.domain.status import OrderStatus
from orderflow.store import Store
from orderflow.workflows.messages import OrderOptions, OrderResult, ReviewDecision
from orderflow.workflows.observability import ORDER_STATUS
from orderflow.workflows.order import OrderWorkflow
from tests.workflow.conftest import FAST, make_activities, worker_for
from tests.workflow.helpers import an_order

RESTING = FAST.model_copy(update={"status_updates": "resting"})
EVERY = FAST.model_copy(update={"status_updates": "every"})


async def written_statuses(
    handle: WorkflowHandle[OrderWorkflow, OrderResult],
) -> list[str]:
    """The OrderStatus values the workflow wrote, in order (from its history)."""
    history = await handle.fetch_history()
    written = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            value = decode_typed_search_attributes(fields).get(ORDER_STATUS)
            if value is not None:  # (the SDK's own TemporalChangeVersion upserts)
                written.append(value)
    return written


async def current_status(handle: WorkflowHandle[OrderWorkflow, OrderResult]) -> str | None:
    description = await handle.describe()
    return description.typed_search_attributes.get(ORDER_STATUS)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # By default a completed order writes the attribute once: where it ends.
        (RESTING, ["COMPLETED"]),
        # ORDERFLOW_STATUS_UPDATES=every writes each status change.
        (EVERY, ["VALIDATED", "AUTHORIZED", "RESERVED", "SHIPPING_QUOTED", "COMPLETED"]),
    ],
    ids=["resting", "every"],
)
async def test_a_completed_order_writes_the_statuses_of_its_mode(
    temporal_env: WorkflowEnvironment,
    task_queue: str,
    order_prefix: str,
    store: Store,
    options: OrderOptions,
    expected: list[str],
) -> None:
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        handle = await start_order(
            temporal_env.client, an_order(f"{order_prefix}1"), task_queue, options
        )
        result = await result_of(handle)

    assert result.status is OrderStatus.COMPLETED
    assert await written_statuses(handle) == expected
    assert await current_status(handle) == "COMPLETED"


async def test_a_failed_order_shows_its_unwinding_and_its_end(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    too_many = an_order(f"{order_prefix}1", items=[LineItem(sku="CAP-NAVY", quantity=500)])
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        handle = await start_order(temporal_env.client, too_many, task_queue, RESTING)
        result = await result_of(handle)

    assert result.status is OrderStatus.FAILED
    assert await written_statuses(handle) == ["COMPENSATING", "FAILED"]
    assert await current_status(handle) == "FAILED"


async def test_an_order_waiting_for_review_is_listed_as_such_until_approved(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    risky = RESTING.model_copy(update={"review_threshold": Decimal("50.00")})
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        handle = await start_order(
            temporal_env.client, an_order(f"{order_prefix}1"), task_queue, risky
        )
        await handle.execute_update(OrderWorkflow.priced)
        # The card's hold comes first, then the wait.
        for _ in range(500):
            if (await handle.query(OrderWorkflow.status)).status is OrderStatus.AWAITING_REVIEW:
                break
            await asyncio.sleep(0.02)
        waiting = await current_status(handle)
        await handle.execute_update(OrderWorkflow.review, ReviewDecision(approved=True))
        await result_of(handle)

    assert waiting == "AWAITING_REVIEW"
    # Leaving the wait is written too, so the attribute never shows a wait that is over.
    assert await written_statuses(handle) == ["AWAITING_REVIEW", "AUTHORIZED", "COMPLETED"]
