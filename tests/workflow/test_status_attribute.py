"""The OrderStatus search attribute: what the Web UI and ``orderflow list --status`` filter on.

``waits`` (the default) writes it only where an order waits for someone or went wrong
(review, operator, unwinding, failed, cancelled) and clears it when a wait ends; ``resting``
also writes RECEIVED at the start and COMPLETED at the end; ``every`` writes every status
change. Each write is a history event and a visibility write on the server, so ``waits`` is
the cheapest: an order that runs through writes nothing. None may leave a stale wait behind.
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

WAITS = FAST.model_copy(update={"status_updates": "waits"})
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
        # By default an order that runs through writes nothing: its workflow is Completed.
        (WAITS, []),
        # ORDERFLOW_STATUS_UPDATES=resting writes where it ends (RECEIVED at the start).
        (RESTING, ["COMPLETED"]),
        # ORDERFLOW_STATUS_UPDATES=every writes each status change.
        (EVERY, ["VALIDATED", "AUTHORIZED", "RESERVED", "SHIPPING_QUOTED", "COMPLETED"]),
    ],
    ids=["waits", "resting", "every"],
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
    assert await current_status(handle) == (expected[-1] if expected else None)


@pytest.mark.parametrize("options", [WAITS, RESTING], ids=["waits", "resting"])
async def test_a_failed_order_shows_its_unwinding_and_its_end(
    temporal_env: WorkflowEnvironment,
    task_queue: str,
    order_prefix: str,
    store: Store,
    options: OrderOptions,
) -> None:
    too_many = an_order(f"{order_prefix}1", items=[LineItem(sku="CAP-NAVY", quantity=500)])
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        handle = await start_order(temporal_env.client, too_many, task_queue, options)
        result = await result_of(handle)

    assert result.status is OrderStatus.FAILED
    assert await written_statuses(handle) == ["COMPENSATING", "FAILED"]
    assert await current_status(handle) == "FAILED"


async def approved_after_review(
    temporal_env: WorkflowEnvironment,
    task_queue: str,
    order_id: str,
    store: Store,
    options: OrderOptions,
) -> tuple[WorkflowHandle[OrderWorkflow, OrderResult], str | None]:
    """Run an order that waits for review, approve it, let it finish: its handle, and its
    OrderStatus while it waited."""
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        handle = await start_order(temporal_env.client, an_order(order_id), task_queue, options)
        await handle.execute_update(OrderWorkflow.priced)
        # The card's hold comes first, then the wait.
        for _ in range(500):
            if (await handle.query(OrderWorkflow.status)).status is OrderStatus.AWAITING_REVIEW:
                break
            await asyncio.sleep(0.02)
        waiting = await current_status(handle)
        await handle.execute_update(OrderWorkflow.review, ReviewDecision(approved=True))
        await result_of(handle)
    return handle, waiting


async def test_an_order_waiting_for_review_is_listed_as_such_until_approved(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    risky = RESTING.model_copy(update={"review_threshold": Decimal("50.00")})
    handle, waiting = await approved_after_review(
        temporal_env, task_queue, f"{order_prefix}1", store, risky
    )

    assert waiting == "AWAITING_REVIEW"
    # Leaving the wait is written too, so the attribute never shows a wait that is over.
    assert await written_statuses(handle) == ["AWAITING_REVIEW", "AUTHORIZED", "COMPLETED"]


async def test_by_default_a_review_wait_is_listed_while_it_lasts_and_cleared_after(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    risky = WAITS.model_copy(update={"review_threshold": Decimal("50.00")})
    handle, waiting = await approved_after_review(
        temporal_env, task_queue, f"{order_prefix}1", store, risky
    )

    assert waiting == "AWAITING_REVIEW"
    # The wait written, then cleared (not replaced): the order ran through and completed.
    assert await written_statuses(handle) == ["AWAITING_REVIEW"]
    assert await current_status(handle) is None


async def test_list_by_status_finds_orders_with_and_without_a_written_status(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    """COMPLETED finds orders of both modes (one wrote it, one left it to Temporal's own
    Completed); FAILED the one that wrote it; RECEIVED an order still running."""
    from orderflow.app.orders import OrderService

    service = OrderService(temporal_env.client, store, task_queue, WAITS)
    done_waits, done_resting = f"{order_prefix}w", f"{order_prefix}r"
    failed = an_order(f"{order_prefix}f", items=[LineItem(sku="CAP-NAVY", quantity=500)])
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        for order, options in (
            (an_order(done_waits), WAITS),
            (an_order(done_resting), RESTING),
            (failed, WAITS),
        ):
            await result_of(await start_order(temporal_env.client, order, task_queue, options))
    # No worker polls now: this one stays running.
    await start_order(temporal_env.client, an_order(f"{order_prefix}n"), task_queue, WAITS)

    async def listed(status: OrderStatus, expected: set[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for _ in range(200):  # visibility is eventually consistent
            found = {
                o.order_id: o.status
                for o in await service.list_orders(status, limit=1000)
                if o.order_id.startswith(order_prefix)
            }
            if set(found) == expected:
                break
            await asyncio.sleep(0.05)
        return found

    completed = await listed(OrderStatus.COMPLETED, {done_waits, done_resting})
    failures = await listed(OrderStatus.FAILED, {failed.order_id})
    running = await listed(OrderStatus.RECEIVED, {f"{order_prefix}n"})

    assert completed == {done_waits: "COMPLETED", done_resting: "COMPLETED"}
    assert failures == {failed.order_id: "FAILED"}
    assert running == {f"{order_prefix}n": "RECEIVED"}
