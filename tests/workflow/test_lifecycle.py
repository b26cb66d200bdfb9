"""Order lifecycle messages and fan-out: cancel, review, update-with-start, warehouses."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from orderflow.adapters.faults import Fault, ScriptedFaults
from orderflow.app.orders import start_order, workflow_id
from orderflow.app.watch import result_of
from orderflow.domain.catalog import CATALOG, WAREHOUSES
from orderflow.domain.models import LineItem, ReservationReceipt, ShipmentReceipt, ShippingQuote
from orderflow.domain.status import OrderStatus
from orderflow.store import Store
from orderflow.workflows.messages import (
    CancelRequest,
    OrderInput,
    OrderResult,
    QuoteRequest,
    ReserveRequest,
    ReviewDecision,
    ShipmentRequest,
)
from orderflow.workflows.order import OrderWorkflow
from tests.workflow.conftest import FAST, STOCK, make_activities, worker_for
from tests.workflow.helpers import (
    an_order,
    ledger,
    shipment_status,
    start_with_short_task_timeout,
    units_held,
)

EAST, WEST = WAREHOUSES
RISKY = FAST.model_copy(update={"review_threshold": Decimal("50.00"), "review_timeout_s": 3600.0})


def blocking_quote(started: asyncio.Event) -> object:
    """A carrier that never answers the quote (until the activity is cancelled)."""

    @activity.defn(name="calculate_shipping")
    async def quote(req: QuoteRequest) -> ShippingQuote:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return quote


def assert_nothing_kept(store: Store, order_id: str) -> None:
    money = store.money_of(order_id)
    assert money.kept == 0 and money.open_holds(datetime.now(timezone.utc)) == 0
    assert units_held(store, order_id) == 0
    assert shipment_status(store, order_id) != "booked"


async def test_cancel_before_shipment_runs_exactly_the_compensations_owed(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    quoting = asyncio.Event()
    acts = make_activities(store)
    async with worker_for(
        temporal_env.client,
        task_queue,
        acts,
        replace=[blocking_quote(quoting)],  # type: ignore[list-item]
    ):
        handle = await start_with_short_task_timeout(
            temporal_env.client, an_order(order_id), task_queue, FAST
        )
        await asyncio.wait_for(quoting.wait(), timeout=30)
        result = await handle.execute_update(
            OrderWorkflow.cancel, CancelRequest(reason="customer changed their mind")
        )
        final = await result_of(handle)

    assert result.status is OrderStatus.CANCELLED
    assert result.reason == "customer changed their mind"
    assert [c.action for c in result.compensations] == ["release_inventory", "release_payment"]
    assert all(c.ok and c.undid_something for c in result.compensations)
    # Cancelled before anything shipped: the hold was voided, the card never charged.
    assert [kind for kind, _ in ledger(store, order_id)] == ["authorize", "void"]
    assert final == result
    assert store.available()["TEE-BLACK-M"] == STOCK
    assert_nothing_kept(store, order_id)
    # Temporal's UI shows a cancelled order apart from a completed one: a failed workflow.
    failure = await failed_workflow(handle)
    assert failure.type == "OrderCancelled"


async def failed_workflow(handle: WorkflowHandle[Any, Any]) -> ApplicationError:
    """The order's workflow must have ended FAILED; its failure (type, result as details)."""
    description = await handle.describe()
    assert description.status is WorkflowExecutionStatus.FAILED
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert isinstance(failed.value.cause, ApplicationError)
    return failed.value.cause


async def test_a_failed_order_is_a_failed_workflow_with_its_result_and_a_completed_one_is_not(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        declined = await start_order(
            temporal_env.client, an_order(f"{order_prefix}d", "tok_declined"), task_queue, FAST
        )
        completed = await start_order(
            temporal_env.client, an_order(f"{order_prefix}c"), task_queue, FAST
        )
        declined_result = await result_of(declined)
        completed_result = await result_of(completed)

    failure = await failed_workflow(declined)
    assert failure.type == "OrderFailed"
    assert f"order {order_prefix}d FAILED" in failure.message
    assert OrderResult.model_validate(failure.details[0]) == declined_result
    assert declined_result.status is OrderStatus.FAILED
    assert declined_result.error_type == "PaymentDeclined"
    assert (await completed.describe()).status is WorkflowExecutionStatus.COMPLETED
    assert completed_result.status is OrderStatus.COMPLETED


async def test_a_rejected_update_names_the_reason_and_leaves_no_trace_in_history(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    quoting = asyncio.Event()
    async with worker_for(
        temporal_env.client,
        task_queue,
        make_activities(store),
        replace=[blocking_quote(quoting)],  # type: ignore[list-item]
    ):
        handle = await start_with_short_task_timeout(
            temporal_env.client, an_order(order_id), task_queue, FAST
        )
        await asyncio.wait_for(quoting.wait(), timeout=30)
        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await handle.execute_update(OrderWorkflow.review, ReviewDecision(approved=True))
        history = await handle.fetch_history()
        await handle.execute_update(OrderWorkflow.cancel, CancelRequest())

    assert isinstance(rejected.value.cause, ApplicationError)
    assert "not awaiting review" in rejected.value.cause.message
    kinds = [event.WhichOneof("attributes") or "" for event in history.events]
    assert not [kind for kind in kinds if "update" in kind]


async def test_cancel_after_completion_is_refused_and_changes_nothing(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        handle = await start_order(temporal_env.client, an_order(order_id), task_queue, FAST)
        assert (await result_of(handle)).status is OrderStatus.COMPLETED
        with pytest.raises(Exception, match=r"(?i)completed"):
            await handle.execute_update(OrderWorkflow.cancel, CancelRequest())

    assert shipment_status(store, order_id) == "booked"
    assert [kind for kind, _ in ledger(store, order_id)] == ["authorize", "capture"]


async def test_update_with_start_answers_with_the_priced_order_while_processing_continues(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        start = WithStartWorkflowOperation(
            OrderWorkflow.run,
            OrderInput(order=an_order(order_id), options=FAST),
            id=workflow_id(order_id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        priced = await temporal_env.client.execute_update_with_start_workflow(
            OrderWorkflow.priced, start_workflow_operation=start
        )
        result = await result_of(await start.workflow_handle())

    assert priced.total.subtotal == Decimal("51.98")  # 2 x 19.99 + 12.00
    assert (
        priced.total.total == priced.total.subtotal + priced.total.shipping_fee + priced.total.tax
    )
    assert not priced.needs_review
    assert result.status is OrderStatus.COMPLETED
    assert result.total == priced.total


async def test_update_with_start_rejects_an_invalid_order_naming_the_field(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    bad = an_order(order_id, items=[LineItem(sku="NOPE", quantity=1)])
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        start = WithStartWorkflowOperation(
            OrderWorkflow.run,
            OrderInput(order=bad, options=FAST),
            id=workflow_id(order_id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        with pytest.raises(WorkflowUpdateFailedError) as failed:
            await temporal_env.client.execute_update_with_start_workflow(
                OrderWorkflow.priced, start_workflow_operation=start
            )

    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "InvalidOrder"
    assert "items[0].sku" in cause.message
    assert ledger(store, order_id) == []


async def test_a_risky_order_waits_for_approval_on_a_hold_before_anything_is_charged(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        handle = await start_order(temporal_env.client, an_order(order_id), task_queue, RISKY)
        priced = await handle.execute_update(OrderWorkflow.priced)
        state = await handle.query(OrderWorkflow.status)
        while state.authorization is None:  # the hold comes right after pricing
            state = await handle.query(OrderWorkflow.status)
        # A hold on the card while it waits; no money has moved.
        assert ledger(store, order_id) == [("authorize", priced.total.total)]
        await handle.execute_update(
            OrderWorkflow.review, ReviewDecision(approved=True, reviewer="sam")
        )
        result = await result_of(handle)

    assert priced.needs_review
    assert state.status is OrderStatus.AWAITING_REVIEW
    assert result.status is OrderStatus.COMPLETED
    assert [kind for kind, _ in ledger(store, order_id)] == ["authorize", "capture"]


async def test_a_rejected_risky_order_is_cancelled_without_a_charge(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        handle = await start_order(temporal_env.client, an_order(order_id), task_queue, RISKY)
        await handle.execute_update(OrderWorkflow.priced)
        await handle.execute_update(
            OrderWorkflow.review, ReviewDecision(approved=False, reviewer="sam", note="fraud")
        )
        result = await result_of(handle)

    assert result.status is OrderStatus.CANCELLED
    assert result.reason == "rejected in review by sam: fraud"
    assert [(c.action, c.detail) for c in result.compensations] == [
        ("release_payment", f"voided the hold of {result.total.total}")  # type: ignore[union-attr]
    ]
    assert [kind for kind, _ in ledger(store, order_id)] == ["authorize", "void"]


async def test_orders_split_across_warehouses_ship_as_one_parcel_each(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    store.restock("HOODIE-GREY-M", 0)  # make sure shelves exist; then stock only in WEST
    store.restock("CAP-NAVY", 5, WEST)
    items = [LineItem(sku="TEE-BLACK-M", quantity=1), LineItem(sku="CAP-NAVY", quantity=5)]
    # TEE lives in EAST only (the fixture stocks EAST); 5 caps fit in WEST only after
    # EAST runs out, so the order must split.
    store.reserve("someone-else", [_line("CAP-NAVY", STOCK)], EAST)
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        handle = await start_order(
            temporal_env.client, an_order(order_id, items=items), task_queue, FAST
        )
        result = await result_of(handle)

    assert result.status is OrderStatus.COMPLETED
    by_warehouse = {s.warehouse: s for s in result.shipments}
    assert set(by_warehouse) == {EAST, WEST}
    assert [line.sku for line in by_warehouse[WEST].lines] == ["CAP-NAVY"]
    assert all(s.status == "booked" and s.tracking_number for s in result.shipments)
    assert len(set(result.tracking_numbers)) == 2
    # Each parcel captured its share when it shipped; together exactly the total.
    assert result.total is not None
    rows = ledger(store, order_id)
    assert [kind for kind, _ in rows] == ["authorize", "capture", "capture"]
    assert sum(amount for kind, amount in rows if kind == "capture") == result.total.total
    assert sorted(s.captured or 0 for s in result.shipments) == sorted(
        amount for kind, amount in rows if kind == "capture"
    )


async def test_a_failed_branch_compensates_exactly_what_the_other_branch_did(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    items = split_order(store)
    acts = make_activities(store)

    @activity.defn(name="schedule_shipment")
    def book_or_fail(req: ShipmentRequest) -> ShipmentReceipt:
        if req.quote.warehouse == WEST:
            raise ApplicationError(
                "carrier refuses this parcel", type="CarrierRefused", non_retryable=True
            )
        return acts.schedule_shipment(req)

    before = store.availability()
    async with worker_for(temporal_env.client, task_queue, acts, replace=[book_or_fail]):
        handle = await start_order(
            temporal_env.client, an_order(order_id, items=items), task_queue, FAST
        )
        result = await result_of(handle)

    assert result.status is OrderStatus.FAILED
    assert result.error_type == "CarrierRefused"
    by_warehouse = {s.warehouse: s for s in result.shipments}
    assert by_warehouse[EAST].status == "cancelled"  # it had been booked: now cancelled
    assert by_warehouse[WEST].status == "failed" and "refuses" in by_warehouse[WEST].error
    assert [(c.action, c.undid_something) for c in result.compensations] == [
        ("cancel_shipment", True),
        ("release_inventory", True),
        ("release_payment", True),
    ]
    assert store.availability() == before  # released exactly once, in both warehouses
    # EAST shipped and captured its share before WEST failed: exactly that is refunded,
    # the rest of the hold voided.
    assert result.total is not None
    east = by_warehouse[EAST].captured
    assert east is not None and 0 < east < result.total.total
    assert ledger(store, order_id) == [
        ("authorize", result.total.total),
        ("capture", east),
        ("void", result.total.total - east),
        ("refund", east),
    ]
    assert result.compensations[-1].detail == (
        f"refunded {east} captured, voided the hold of {result.total.total - east}"
    )
    assert_nothing_kept(store, order_id)


async def test_lost_responses_on_the_void_and_the_refund_release_each_exactly_once(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    items = split_order(store)
    # Gateway calls: authorize, capture (EAST), then the release: the void's answer is
    # lost (it was done); the retry skips the void (the ledger has it) and the refund's
    # answer is lost (it was done); the third attempt finds both done. Each exactly once.
    acts = make_activities(
        store, payment=ScriptedFaults([None, None, Fault.LOST_RESPONSE, Fault.LOST_RESPONSE])
    )

    @activity.defn(name="schedule_shipment")
    def book_or_fail(req: ShipmentRequest) -> ShipmentReceipt:
        if req.quote.warehouse == WEST:
            raise ApplicationError("carrier refuses", type="CarrierRefused", non_retryable=True)
        return acts.schedule_shipment(req)

    async with worker_for(temporal_env.client, task_queue, acts, replace=[book_or_fail]):
        handle = await start_order(
            temporal_env.client, an_order(order_id, items=items), task_queue, FAST
        )
        result = await result_of(handle)

    assert result.status is OrderStatus.FAILED and result.total is not None
    release = result.compensations[-1]
    assert release.action == "release_payment" and release.ok and release.attempts == 3
    east = {s.warehouse: s for s in result.shipments}[EAST].captured
    assert east is not None
    assert ledger(store, order_id) == [
        ("authorize", result.total.total),
        ("capture", east),
        ("void", result.total.total - east),
        ("refund", east),
    ]
    assert_nothing_kept(store, order_id)


async def test_a_cancel_after_one_parcel_captured_refunds_that_capture_and_voids_the_rest(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    items = split_order(store)
    acts = make_activities(store)
    east_captured = asyncio.Event()

    @activity.defn(name="schedule_shipment")
    async def west_books_slowly(req: ShipmentRequest) -> ShipmentReceipt:
        if req.quote.warehouse == WEST:
            await east_captured.wait()
            await asyncio.Event().wait()  # the carrier never answers: cancelled below
        return await asyncio.to_thread(acts.schedule_shipment, req)

    async with worker_for(temporal_env.client, task_queue, acts, replace=[west_books_slowly]):
        handle = await start_with_short_task_timeout(
            temporal_env.client, an_order(order_id, items=items), task_queue, FAST
        )
        while not any(kind == "capture" for kind, _ in ledger(store, order_id)):
            await handle.query(OrderWorkflow.status)  # polls the real workflow, no sleep
        east_captured.set()
        result = await handle.execute_update(
            OrderWorkflow.cancel, CancelRequest(reason="customer called")
        )

    assert result.status is OrderStatus.CANCELLED and result.total is not None
    rows = ledger(store, order_id)
    east = rows[1][1]
    assert [kind for kind, _ in rows] == ["authorize", "capture", "void", "refund"]
    assert rows[2:] == [("void", result.total.total - east), ("refund", east)]
    assert_nothing_kept(store, order_id)


async def test_a_reservation_failing_in_one_warehouse_releases_the_other(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    items = split_order(store)
    acts = make_activities(store)
    east_reserved = asyncio.Event()

    @activity.defn(name="reserve_inventory")
    async def reserve_east_then_fail_west(req: ReserveRequest) -> ReservationReceipt:
        if req.warehouse == WEST:
            await east_reserved.wait()  # fail only after the other branch has acted
            raise ApplicationError("shelf empty", type="OutOfStock", non_retryable=True)
        receipt = await asyncio.to_thread(acts.reserve_inventory, req)
        east_reserved.set()
        return receipt

    before = store.availability()
    async with worker_for(
        temporal_env.client, task_queue, acts, replace=[reserve_east_then_fail_west]
    ):
        handle = await start_order(
            temporal_env.client, an_order(order_id, items=items), task_queue, FAST
        )
        result = await result_of(handle)

    assert result.status is OrderStatus.FAILED
    assert result.failed_step == "inventory"
    statuses = {s.warehouse: s.status for s in result.shipments}
    assert statuses == {EAST: "released", WEST: "failed"}
    assert result.compensations[0].detail == "released 2 unit(s)"
    assert store.availability() == before
    assert_nothing_kept(store, order_id)


def split_order(store: Store) -> list[LineItem]:
    """Lines that must ship from two warehouses: 2 tees (EAST only) and 5 caps, which only
    WEST still has (someone else holds EAST's)."""
    store.restock("CAP-NAVY", 5, WEST)
    store.reserve("someone-else", [_line("CAP-NAVY", STOCK)], EAST)
    return [LineItem(sku="TEE-BLACK-M", quantity=2), LineItem(sku="CAP-NAVY", quantity=5)]


def _line(sku: str, quantity: int):  # type: ignore[no-untyped-def]
    from orderflow.domain.models import PricedLine

    product = next(p for p in CATALOG if p.sku == sku)
    return PricedLine(
        sku=sku, quantity=quantity, unit_price=product.unit_price, weight_grams=product.weight_grams
    )
