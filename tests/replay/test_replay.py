"""The determinism guard: every committed history replays against today's workflow code."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import NondeterminismError

from orderflow.temporal.sandbox import workflow_runner
from orderflow.workflows.aftersale import AfterSaleWorkflow
from orderflow.workflows.messages import LOCAL_STEPS
from orderflow.workflows.order import OrderWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
#: The order workflow's histories (the others: refunds and returns after delivery).
ORDER_HISTORIES = [p for p in HISTORIES if "refund_by" not in p.stem and "return_" not in p.stem]


def activity_types(path: Path, *, local: bool | None = None) -> list[str]:
    """The activities a history ran: scheduled ones, local ones (markers), or both."""
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    types = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED and not local:
            types.append(event.activity_task_scheduled_event_attributes.activity_type.name)
        marker = event.marker_recorded_event_attributes
        if marker.marker_name == "core_local_activity" and local is not False:
            types.append(json.loads(marker.details["data"].payloads[0].data)["activity_type"])
    return types


def test_there_are_histories_to_replay() -> None:
    assert len(HISTORIES) >= 4


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
@pytest.mark.parametrize(
    "runner",
    [SandboxedWorkflowRunner(), workflow_runner(sandbox=True)],
    ids=["sdk-sandbox", "orderflow-sandbox"],
)
async def test_history_replays_without_nondeterminism(path: Path, runner: WorkflowRunner) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(
        workflows=[OrderWorkflow, AfterSaleWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=runner,
    )
    # Raises NondeterminismError if a change to the workflow broke in-flight orders.
    await replayer.replay_workflow(history)


async def test_without_the_patch_guard_old_orders_would_break_on_deploy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The negative control: the v2 change unguarded is a nondeterminism error for v1 orders."""
    path = next(p for p in HISTORIES if p.stem == "v1_completed_with_retries")
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    monkeypatch.setattr(workflow, "patched", lambda _id: True)
    replayer = Replayer(
        workflows=[OrderWorkflow, AfterSaleWorkflow], data_converter=pydantic_data_converter
    )

    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(history)


def test_histories_from_before_and_after_the_outcome_patch_are_both_kept() -> None:
    assert {p.stem.split("_", 1)[0] for p in HISTORIES} >= {"v1", "v2", "v3"}
    # v1 orders never ran the outcome activity; every later order did.
    for path in ORDER_HISTORIES:
        ran = "record_outcome" in activity_types(path)
        assert ran == (not path.stem.startswith("v1_")), path.stem


@pytest.mark.parametrize("mode", ["mixed", "local"])
def test_histories_of_every_activity_mode_are_kept(mode: str) -> None:
    mine = [p for p in HISTORIES if p.stem.startswith(f"v3_{mode}_")]
    assert len(mine) >= 4
    for path in mine:  # their local steps left markers, not scheduled activities
        assert "validate_order" in activity_types(path, local=True), path.stem
        assert "validate_order" not in activity_types(path, local=False), path.stem


async def test_an_order_replays_only_in_the_activity_mode_it_started_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The mode travels in the order's input: a worker cannot switch a running order."""
    path = next(p for p in HISTORIES if p.stem == "v3_mixed_completed_with_retries")
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    monkeypatch.setitem(LOCAL_STEPS, "mixed", frozenset())  # as if "mixed" meant "regular"
    replayer = Replayer(
        workflows=[OrderWorkflow, AfterSaleWorkflow], data_converter=pydantic_data_converter
    )

    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(history)


async def test_an_order_replays_only_with_the_status_updates_it_started_with() -> None:
    """The negative control: a v3 order (no ``status_updates`` in its input: ``every``) read
    as ``resting`` drops status writes its history has, a nondeterminism error. So the
    option travels in the input and its default stays ``every`` for orders started before."""
    path = next(p for p in HISTORIES if p.stem == "v3_mixed_completed_with_retries")
    raw = json.loads(path.read_text())
    started = raw["events"][0]["workflowExecutionStartedEventAttributes"]
    payload = started["input"]["payloads"][0]
    inp = json.loads(base64.b64decode(payload["data"]))
    assert "status_updates" not in inp["options"]
    inp["options"]["status_updates"] = "resting"
    payload["data"] = base64.b64encode(json.dumps(inp).encode()).decode()
    history = WorkflowHistory.from_json(path.stem, json.dumps(raw))
    replayer = Replayer(
        workflows=[OrderWorkflow, AfterSaleWorkflow], data_converter=pydantic_data_converter
    )

    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(history)


def test_histories_with_resting_status_updates_are_kept() -> None:
    mine = [p for p in HISTORIES if p.stem.startswith("v4_")]
    assert len(mine) >= 4
    for path in mine:
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        upserts = [
            event.upsert_workflow_search_attributes_event_attributes.search_attributes
            for event in history.events
            if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
        ]
        upserts = [fields for fields in upserts if "OrderStatus" in fields.indexed_fields]
        assert 1 <= len(upserts) <= 2, path.stem  # COMPLETED, or COMPENSATING + FAILED


def closing_event(path: Path) -> EventType.ValueType:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    return history.events[-1].event_type


def test_v6_orders_hold_cards_capture_per_parcel_and_void_what_does_not_ship() -> None:
    """Orders of v6 and v7 authorize and capture (or void); v5 and older charge and refund."""
    kinds = {p.stem: activity_types(p) for p in ORDER_HISTORIES}
    for stem, types in kinds.items():
        new = stem.split("_", 1)[0] in ("v6", "v7")
        assert ("authorize_payment" in types) == (new and "invalid" not in stem), stem
        if not new and "invalid" not in stem and "in_review" not in stem:
            assert "process_payment" in types, stem
    assert "capture_payment" in kinds["v6_split_across_warehouses"]
    assert kinds["v6_split_across_warehouses"].count("capture_payment") == 2
    assert "release_payment" in kinds["v6_out_of_stock"]
    assert kinds["v6_reauthorized_in_review"].count("authorize_payment") == 2
    after = {p.stem: activity_types(p) for p in HISTORIES if p not in ORDER_HISTORIES}
    assert after["v6_refund_by_line"] == ["refund_after_sale"]
    assert after["v6_return_received"] == ["restock_return", "refund_after_sale"]


def test_failed_and_cancelled_orders_of_v5_end_as_failed_workflows() -> None:
    mine = {p.stem: p for p in HISTORIES if p.stem.startswith("v5_")}
    assert {"v5_completed_with_retries", "v5_invalid", "v5_cancelled_in_review"} <= set(mine)
    for stem in ("v5_invalid", "v5_out_of_stock", "v5_failed_shipment_compensated"):
        assert closing_event(mine[stem]) == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED
    assert (
        closing_event(mine["v5_cancelled_in_review"])
        == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED
    )
    for stem in ("v5_completed_with_retries", "v5_submitted", "v5_split_across_warehouses"):
        assert closing_event(mine[stem]) == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    for path in HISTORIES:  # older failed orders completed: they replay as they ran
        if path.stem.split("_", 1)[0] in ("v1", "v2", "v3", "v4"):
            assert closing_event(path) == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED


def test_a_v5_history_holds_the_doors_updates() -> None:
    names = {}
    for stem in ("v5_submitted", "v5_cancelled_in_review"):
        path = next(p for p in HISTORIES if p.stem == stem)
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        names[stem] = [
            event.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
            for event in history.events
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        ]
    assert names == {"v5_submitted": ["priced"], "v5_cancelled_in_review": ["priced", "cancel"]}


async def test_without_the_fail_visibly_guard_v4_failed_orders_would_break(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The negative control: ending failed orders as failed workflows, unguarded, is a
    nondeterminism error for the failed orders of v4 (they completed)."""
    path = next(p for p in HISTORIES if p.stem == "v4_invalid")
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    real = workflow.patched
    monkeypatch.setattr(workflow, "patched", lambda id: True if id == "fail-visibly" else real(id))
    replayer = Replayer(
        workflows=[OrderWorkflow, AfterSaleWorkflow], data_converter=pydantic_data_converter
    )

    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(history)


def events_of(path: Path) -> list[Any]:
    return list(WorkflowHistory.from_json(path.stem, path.read_text()).events)


def patch_markers(path: Path) -> list[str]:
    return [
        json.loads(event.marker_recorded_event_attributes.details["patch-data"].payloads[0].data)[
            "id"
        ]
        for event in events_of(path)
        if event.marker_recorded_event_attributes.marker_name == "core_patch"
    ]


def timers(path: Path) -> int:
    return sum(1 for event in events_of(path) if event.HasField("timer_started_event_attributes"))


def test_v7_orders_record_no_patch_marker_and_keep_a_timer_only_while_they_wait() -> None:
    """From v7 an order's flow is in its validation's result, not in patch markers (each one
    a history event and a search-attribute write); only an order waiting for review keeps
    its hold on a timer (v6 started one for every order)."""
    v7 = [p for p in ORDER_HISTORIES if p.stem.startswith("v7_")]
    assert len(v7) >= 14  # the default mode's and the regular mode's
    for path in v7:
        validated = "invalid" not in path.stem
        assert (patch_markers(path) == []) == validated, path.stem
        if validated and "in_review" not in path.stem:
            assert timers(path) == 0, path.stem
    renewed = next(p for p in v7 if p.stem == "v7_renewed_before_capture")
    assert activity_types(renewed).count("authorize_payment") == 2
    v6 = {p.stem: p for p in ORDER_HISTORIES if p.stem.startswith("v6_")}
    assert "authorize-capture" in patch_markers(v6["v6_completed_with_retries"])
    assert timers(v6["v6_completed_with_retries"]) == 1  # the keeper, cancelled at capture


@pytest.mark.parametrize("stem", ["v7_completed_with_retries", "v7_regular_completed_with_retries"])
async def test_a_v7_order_read_as_an_older_one_would_break(stem: str) -> None:
    """The negative control: the flow recorded in the validation's result is what keeps v7
    orders replaying. Without it (as the result of a v6 validation reads), the older path's
    patch markers and keeper timer would be expected: a nondeterminism error."""
    path = next(p for p in HISTORIES if p.stem == stem)
    raw = json.loads(path.read_text())
    edited = 0
    for event in raw["events"]:
        marker = event.get("markerRecordedEventAttributes")
        completed = event.get("activityTaskCompletedEventAttributes")
        if marker and "result" in marker["details"]:
            payload = marker["details"]["result"]["payloads"][0]
        elif completed:
            payload = completed["result"]["payloads"][0]
        else:
            continue
        if "data" not in payload:  # None (the outcome's record)
            continue
        value = json.loads(base64.b64decode(payload["data"]))
        if isinstance(value, dict) and "flow" in value:
            del value["flow"]
            payload["data"] = base64.b64encode(json.dumps(value).encode()).decode()
            edited += 1
    assert edited == 1
    history = WorkflowHistory.from_json(path.stem, json.dumps(raw))
    replayer = Replayer(
        workflows=[OrderWorkflow, AfterSaleWorkflow], data_converter=pydantic_data_converter
    )

    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(history)
