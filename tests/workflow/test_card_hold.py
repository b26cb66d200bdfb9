"""The card's hold from v7 on: an order that waits for nobody keeps no timer and records no
patch marker; if it took long enough for its hold to near the lapse (a slow step, a worker
down), it renews the hold before the first capture, and a declined renewal cancels it.

(A risky order waiting for review keeps its hold on a durable timer: test_review_timer.py.)
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from orderflow.adapters.faults import Fault, ScriptedFaults
from orderflow.app.orders import start_order
from orderflow.app.watch import result_of
from orderflow.domain.status import OrderStatus
from orderflow.store import Store
from orderflow.store.audit import run_audit
from orderflow.workflows.messages import ORDER_FLOW, Validation
from tests.workflow.conftest import FAST, make_activities, worker_for
from tests.workflow.helpers import an_order, ledger

#: A hold that lasts 1.5 s, and a reservation that takes 2 s: by the first capture the
#: hold is past the point (a seventh of its life before it lapses) where it is renewed.
SHORT_HOLD = FAST.model_copy(update={"authorization_ttl_s": 1.5})


def slow_inventory() -> ScriptedFaults:
    return ScriptedFaults([Fault.SLOW], slow_seconds=2.0)


async def test_an_order_that_waits_for_nobody_records_no_patch_marker_and_keeps_no_timer(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    async with worker_for(temporal_env.client, task_queue, make_activities(store)):
        handle = await start_order(temporal_env.client, an_order(order_id), task_queue, FAST)
        result = await result_of(handle)
        history = await handle.fetch_history()

    assert result.status is OrderStatus.COMPLETED
    kinds = [event.event_type for event in history.events]
    markers = [
        event.marker_recorded_event_attributes.marker_name
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
    ]
    assert "core_patch" not in markers  # every change of v2-v6, without a marker
    assert EventType.EVENT_TYPE_TIMER_STARTED not in kinds
    assert [kind for kind, _ in ledger(store, order_id)] == ["authorize", "capture"]
    # The flow is what its validation answered, in its history for every replay to read.
    assert (await validation_in(history)).flow == ORDER_FLOW


async def validation_in(history: WorkflowHistory) -> Validation:
    """The validation step's result as the order's history recorded it (a local
    activity's marker, or a regular activity's completion)."""
    for event in history.events:
        marker = event.marker_recorded_event_attributes
        if marker.marker_name == "core_local_activity" and (
            json.loads(marker.details["data"].payloads[0].data)["activity_type"] == "validate_order"
        ):
            payloads = marker.details["result"].payloads
            break
        completed = event.activity_task_completed_event_attributes
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            payloads = completed.result.payloads  # the first completion is the validation
            break
    else:
        raise AssertionError("no validation in the history")
    [value] = await pydantic_data_converter.decode(list(payloads), [Validation])
    assert isinstance(value, Validation)
    return value


async def test_a_hold_near_its_lapse_is_renewed_before_the_first_capture(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    acts = make_activities(store, inventory=slow_inventory())
    async with worker_for(temporal_env.client, task_queue, acts):
        handle = await start_order(temporal_env.client, an_order(order_id), task_queue, SHORT_HOLD)
        result = await result_of(handle)

    assert result.status is OrderStatus.COMPLETED, result.reason
    assert result.total is not None
    # Held, held again (the first hold voided), and the new hold captured in full, once.
    assert [kind for kind, _ in ledger(store, order_id)] == [
        "authorize",
        "authorize",
        "void",
        "capture",
    ]
    money = store.money_of(order_id)
    first, renewed = money.holds
    assert first.voided == first.amount and renewed.captured == result.total.total
    assert result.authorization is not None
    assert result.authorization.reference == renewed.reference
    assert money.kept == result.total.total
    assert run_audit(store.engine, order_prefix=order_id).ok


async def test_a_declined_renewal_before_the_first_capture_cancels_the_order_and_voids_its_hold(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    order_id = f"{order_prefix}1"
    acts = make_activities(store, inventory=slow_inventory())
    async with worker_for(temporal_env.client, task_queue, acts):
        handle = await start_order(
            temporal_env.client, an_order(order_id, "tok_reauth_declined"), task_queue, SHORT_HOLD
        )
        result = await result_of(handle)

    assert result.status is OrderStatus.CANCELLED
    assert "re-authorization failed" in result.reason and "PaymentDeclined" in result.reason
    # The first hold lapsed on its own (a lapsed hold holds nothing: no void is owed).
    assert [kind for kind, _ in ledger(store, order_id)] == ["authorize"]
    assert store.money_of(order_id).open_holds(datetime.now(timezone.utc)) == 0
    assert [c.action for c in result.compensations] == [
        "cancel_shipment",
        "release_inventory",
        "release_payment",
    ]
    assert store.money_of(order_id).kept == 0
    assert run_audit(store.engine, order_prefix=order_id).ok
