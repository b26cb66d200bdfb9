"""The order workflow on a real Temporal server: happy path, retries, saga, cancellation.

Every test runs in each activity mode (regular, mixed, local): which steps are local
activities must change nothing a customer or the ledger would notice.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import CancelledError
from temporalio.testing import WorkflowEnvironment

from orderflow.adapters.faults import NO_FAULTS, Fault, ScriptedFaults
from orderflow.app.orders import start_order
from orderflow.app.watch import result_of
from orderflow.domain.models import LineItem, ShippingQuote
from orderflow.domain.pricing import price_order
from orderflow.domain.status import OrderStatus
from orderflow.domain.validation import validate_order
from orderflow.store import Store
from orderflow.store.audit import run_audit
from orderflow.workflows.messages import (
    ACTIVITY_MODES,
    OrderResult,
    QuoteRequest,
    Resolution,
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

UNAVAILABLE, LOST = Fault.UNAVAILABLE, Fault.LOST_RESPONSE

#: The options of this module's orders; set per test by the ``activity_mode`` fixture.
OPTIONS = FAST


@pytest.fixture(autouse=True, params=ACTIVITY_MODES)
def activity_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run each test of this module once per activity mode."""
    mode: str = request.param
    monkeypatch.setattr(
        sys.modules[__name__], "OPTIONS", FAST.model_copy(update={"activity_mode": mode})
    )
    return mode


async def run_order(
    env: WorkflowEnvironment, task_queue: str, order_id: str, **kw: object
) -> OrderResult:
    handle = await start_order(env.client, an_order(order_id, **kw), task_queue, OPTIONS)  # type: ignore[arg-type]
    return await result_of(handle)


def expected_total(store: Store, order_id: str) -> Decimal:
    order = an_order(order_id)
    return price_order(validate_order(order, store.catalog()).lines, order.service_level).total


def assert_clean(store: Store, order_id: str) -> None:
    """Nothing kept: no money taken net, no hold left open, no stock held, no shipment."""
    money = store.money_of(order_id)
    assert money.kept == 0
    assert money.open_holds(datetime.now(timezone.utc)) == 0
    assert units_held(store, order_id) == 0
    assert shipment_status(store, order_id) != "booked"
    assert run_audit(store.engine, order_prefix=order_id).ok


async def test_completes_an_order_capturing_exactly_the_total_from_its_hold(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        result = await run_order(temporal_env, task_queue, order_id)

    assert result.status is OrderStatus.COMPLETED
    assert result.total is not None and result.total.total == expected_total(store, order_id)
    assert len(result.tracking_numbers) == 1 and result.tracking_numbers[0].startswith("1Z")
    assert [(s.warehouse, s.status) for s in result.shipments] == [("WH-EAST", "booked")]
    # Authorized when placed, captured when its parcel shipped; nothing voided.
    total = result.total.total
    assert ledger(store, order_id) == [("authorize", total), ("capture", total)]
    assert result.authorization is not None and result.authorization.amount == total
    assert result.shipments[0].captured == total
    assert units_held(store, order_id) == 3
    assert store.available()["TEE-BLACK-M"] == STOCK - 2
    assert shipment_status(store, order_id) == "booked"
    assert result.compensations == []
    assert store.outcomes()[order_id] == "COMPLETED"  # recorded for audit and reconciliation
    assert run_audit(store.engine, order_prefix=order_id).ok


async def test_retries_transient_payment_faults_until_the_authorization_succeeds(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    acts = make_activities(store, payment=ScriptedFaults([UNAVAILABLE, UNAVAILABLE]))
    async with worker_for(temporal_env.client, task_queue, acts):
        result = await run_order(temporal_env, task_queue, order_id)

    assert result.status is OrderStatus.COMPLETED
    assert result.attempts["payment"] == 3
    assert result.retries == 2
    assert [kind for kind, _ in ledger(store, order_id)] == ["authorize", "capture"]


async def test_lost_responses_on_authorize_and_capture_hold_and_take_once(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    # Two authorize answers lost (the hold was placed), then the capture's answer lost.
    acts = make_activities(store, payment=ScriptedFaults([LOST, LOST, None, LOST]))
    async with worker_for(temporal_env.client, task_queue, acts):
        result = await run_order(temporal_env, task_queue, order_id)

    total = expected_total(store, order_id)
    assert result.status is OrderStatus.COMPLETED
    assert result.attempts["payment"] == 3
    assert result.attempts["capture:WH-EAST"] == 2
    assert ledger(store, order_id) == [("authorize", total), ("capture", total)]


async def test_charges_nothing_when_the_gateway_never_answers(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    # Three charge attempts fail; the gateway is back in time for the refund.
    acts = make_activities(store, payment=ScriptedFaults([UNAVAILABLE] * 3))
    async with worker_for(temporal_env.client, task_queue, acts):
        result = await run_order(temporal_env, task_queue, order_id)

    assert result.status is OrderStatus.FAILED
    assert result.failed_step == "payment"
    assert "ServiceUnavailable" in result.reason and "retries exhausted" in result.reason
    assert result.attempts["payment"] == 3
    assert [(c.action, c.undid_something) for c in result.compensations] == [
        ("release_payment", False)
    ]
    assert result.compensations[0].detail == "nothing was held or taken"
    assert ledger(store, order_id) == []
    assert_clean(store, order_id)


async def test_voids_a_hold_whose_every_response_was_lost(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    # The gateway placed the hold on the first attempt, but the workflow never heard back.
    order_id = f"{order_prefix}1"
    acts = make_activities(store, payment=ScriptedFaults([LOST, LOST, LOST]))
    async with worker_for(temporal_env.client, task_queue, acts):
        result = await run_order(temporal_env, task_queue, order_id)

    total = expected_total(store, order_id)
    assert result.status is OrderStatus.FAILED
    assert result.compensations[0].detail == f"voided the hold of {total}"
    assert ledger(store, order_id) == [("authorize", total), ("void", total)]  # never charged
    assert_clean(store, order_id)


async def test_voids_the_hold_when_the_inventory_system_never_answers(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    acts = make_activities(store, inventory=ScriptedFaults([UNAVAILABLE] * 3))
    async with worker_for(temporal_env.client, task_queue, acts):
        result = await run_order(temporal_env, task_queue, order_id)

    assert result.status is OrderStatus.FAILED
    assert result.failed_step == "allocation"
    assert [(c.action, c.undid_something) for c in result.compensations] == [
        ("release_payment", True)
    ]
    assert [kind for kind, _ in ledger(store, order_id)] == ["authorize", "void"]
    assert_clean(store, order_id)


async def test_voids_and_releases_when_reserving_exhausts_its_retries(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    # Allocation reads availability fine; then every reservation attempt's answer is lost,
    # so the stock *was* held although the workflow never heard so.
    acts = make_activities(store, inventory=ScriptedFaults([None, LOST, LOST, LOST]))
    async with worker_for(temporal_env.client, task_queue, acts):
        result = await run_order(temporal_env, task_queue, order_id)

    assert result.status is OrderStatus.FAILED
    assert result.failed_step == "inventory"
    assert [(c.action, c.undid_something) for c in result.compensations] == [
        ("release_inventory", True),
        ("release_payment", True),
    ]
    assert store.available()["TEE-BLACK-M"] == STOCK
    assert_clean(store, order_id)


async def test_voids_and_releases_when_the_shipping_quote_fails(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    acts = make_activities(store, shipping=ScriptedFaults([UNAVAILABLE] * 3))
    async with worker_for(temporal_env.client, task_queue, acts):
        result = await run_order(temporal_env, task_queue, order_id)

    assert result.status is OrderStatus.FAILED
    assert result.failed_step == "shipping_quote"
    assert [(c.action, c.undid_something) for c in result.compensations] == [
        ("release_inventory", True),
        ("release_payment", True),
    ]
    assert store.available()["TEE-BLACK-M"] == STOCK
    assert_clean(store, order_id)


async def test_voids_releases_and_cancels_when_booking_the_shipment_fails(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    # The spec's compensation problem: charged, stock locked, and the shipment never booked.
    order_id = f"{order_prefix}1"
    acts = make_activities(store, shipping=ScriptedFaults([None, LOST, LOST, LOST]))
    async with worker_for(temporal_env.client, task_queue, acts):
        result = await run_order(temporal_env, task_queue, order_id)

    assert result.status is OrderStatus.FAILED
    assert result.failed_step == "shipment"
    assert [(c.action, c.undid_something) for c in result.compensations] == [
        ("cancel_shipment", True),  # the lost responses had booked it
        ("release_inventory", True),
        ("release_payment", True),
    ]
    assert shipment_status(store, order_id) == "cancelled"
    assert [kind for kind, _ in ledger(store, order_id)] == ["authorize", "void"]  # not captured
    assert_clean(store, order_id)


async def test_does_not_retry_a_declined_card(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        result = await run_order(temporal_env, task_queue, order_id, payment_token="tok_declined")

    assert result.status is OrderStatus.FAILED
    assert result.reason.startswith("payment: PaymentDeclined")
    assert result.attempts["payment"] == 1
    assert_clean(store, order_id)


async def test_voids_the_hold_without_retrying_when_stock_runs_out(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    items = [LineItem(sku="MUG-LOGO", quantity=1), LineItem(sku="TEE-BLACK-M", quantity=STOCK + 1)]
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        result = await run_order(temporal_env, task_queue, order_id, items=items)

    assert result.status is OrderStatus.FAILED
    assert result.reason.startswith("allocation: OutOfStock")
    assert result.error_type == "OutOfStock"
    assert result.attempts["allocation"] == 1
    assert store.available()["MUG-LOGO"] == STOCK  # all or nothing: the mug was not held
    assert [c.action for c in result.compensations] == ["release_payment"]
    # A failed order whose card was never captured: no charge and no refund, a void.
    assert [kind for kind, _ in ledger(store, order_id)] == ["authorize", "void"]
    assert_clean(store, order_id)


async def test_rejects_an_invalid_order_naming_the_field_and_touches_nothing(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    items = [LineItem(sku="TEE-BLACK-M", quantity=0)]
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        result = await run_order(temporal_env, task_queue, order_id, items=items)

    assert result.status is OrderStatus.FAILED
    assert result.reason.startswith("validate: InvalidOrder: items[0].quantity:")
    assert "positive whole number" in result.reason
    assert result.compensations == []
    assert ledger(store, order_id) == []
    assert store.outcomes()[order_id] == "FAILED"
    assert run_audit(store.engine, order_prefix=order_id).orders_checked == 0


@pytest.mark.parametrize("fix", ["mark_refunded", "retry"])
async def test_a_refund_that_cannot_complete_parks_the_order_until_an_operator_settles_it(
    temporal_env: WorkflowEnvironment,
    task_queue: str,
    order_prefix: str,
    store: Store,
    fix: str,
) -> None:
    order_id = f"{order_prefix}1"
    # The hold goes through; afterwards the gateway is down (voids fail too).
    acts = make_activities(
        store,
        payment=ScriptedFaults([None], then=UNAVAILABLE),
        shipping=ScriptedFaults([UNAVAILABLE] * 3),
    )
    async with worker_for(temporal_env.client, task_queue, acts):
        handle = await start_order(temporal_env.client, an_order(order_id), task_queue, OPTIONS)
        parked = await handle.execute_update(OrderWorkflow.settled)
        state = await handle.query(OrderWorkflow.status)
        # Visible, not silent: the audit flags the order that still holds the money.
        audit = run_audit(store.engine, order_prefix=order_id)
        if fix == "retry":
            acts.gateway.faults = NO_FAULTS  # the gateway is back
        await handle.execute_update(
            OrderWorkflow.resolve, Resolution(action=fix, operator="sam", note="ticket 42")
        )
        result = await result_of(handle)

    assert parked.status is OrderStatus.NEEDS_ATTENTION
    release = parked.compensations[-1]
    assert release.action == "release_payment" and not release.ok
    assert release.attempts == OPTIONS.compensations.max_attempts
    assert state.status is OrderStatus.NEEDS_ATTENTION and state.owed == ["release_payment"]
    assert not audit.ok and "left open" in audit.violations[0]
    assert result.status is OrderStatus.FAILED
    settled = result.compensations[-1]
    assert settled.action == "release_payment" and settled.ok and settled.undid_something
    assert settled.detail.startswith("resolved by hand") == (fix == "mark_refunded")
    assert_clean(store, order_id)
    assert store.outcomes()[order_id] == "FAILED"


async def test_a_resolution_that_does_not_match_what_is_owed_is_refused(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    acts = make_activities(
        store,
        payment=ScriptedFaults([None], then=UNAVAILABLE),
        shipping=ScriptedFaults([UNAVAILABLE] * 3),
    )
    async with worker_for(temporal_env.client, task_queue, acts):
        handle = await start_order(temporal_env.client, an_order(order_id), task_queue, OPTIONS)
        await handle.execute_update(OrderWorkflow.settled)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(OrderWorkflow.resolve, Resolution(action="mark_cancelled"))
        await handle.execute_update(OrderWorkflow.resolve, Resolution(action="mark_refunded"))
        await result_of(handle)

    assert "cancel_shipment is not owed" in str(refused.value.cause)


async def test_submitting_the_same_order_twice_runs_one_saga(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        first = await start_order(temporal_env.client, an_order(order_id), task_queue, OPTIONS)
        second = await start_order(temporal_env.client, an_order(order_id), task_queue, OPTIONS)
        await result_of(first)
        third = await start_order(temporal_env.client, an_order(order_id), task_queue, OPTIONS)
        result = await result_of(third)

    assert second.result_run_id == first.result_run_id
    assert result.status is OrderStatus.COMPLETED
    assert [kind for kind, _ in ledger(store, order_id)] == ["authorize", "capture"]


async def test_cancelling_a_running_order_voids_and_releases(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    quoting = asyncio.Event()

    @activity.defn(name="calculate_shipping")
    async def slow_quote(req: QuoteRequest) -> ShippingQuote:
        quoting.set()
        await asyncio.Event().wait()  # the carrier never answers; cancellation ends this
        raise AssertionError("unreachable")

    acts = make_activities(store)
    async with worker_for(temporal_env.client, task_queue, acts, replace=[slow_quote]):
        handle = await start_with_short_task_timeout(
            temporal_env.client, an_order(order_id), task_queue, OPTIONS
        )
        await asyncio.wait_for(quoting.wait(), timeout=30)
        assert units_held(store, order_id) == 3
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        state = await handle.query(OrderWorkflow.status)

    assert isinstance(failure.value.cause, CancelledError)
    assert state.status is OrderStatus.CANCELLED
    assert [c.action for c in state.compensations] == ["release_inventory", "release_payment"]
    assert [kind for kind, _ in ledger(store, order_id)] == ["authorize", "void"]
    assert_clean(store, order_id)
