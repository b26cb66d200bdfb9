"""An order's saga as a timeline in business words, read from its workflow history.

Each step with its attempts, how long it took and its last failure; each compensation and
what it undid; the review decision, a cancel request, an operator's resolution (who and
why); the outcome. Regular activities show every attempt's count and the last failure
before the one that settled it; local activities show as their final result.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Literal

from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from orderflow.app.errors import OrderNotFound
from orderflow.app.orders import workflow_id
from orderflow.domain.validation import ORDER_ID_PATTERN

#: The summary the order workflow gives its review window's timer.
REVIEW_TIMER = "review window"

Kind = Literal["received", "step", "compensation", "review", "cancel", "operator", "outcome"]

#: What each activity does, in a shop's words.
TITLES = {
    "validate_order": "Validated the order",
    "process_payment": "Charged the card",
    "authorize_payment": "Authorized the card (a hold)",
    "capture_payment": "Captured the parcel's share",
    "release_payment": "Released the payment",
    "allocate_inventory": "Allocated the lines to warehouses",
    "reserve_inventory": "Reserved the stock",
    "calculate_shipping": "Quoted the shipping",
    "schedule_shipment": "Booked the shipment",
    "record_outcome": "Recorded the outcome",
    "refund_payment": "Refunded the payment",
    "release_inventory": "Released the stock",
    "cancel_shipment": "Cancelled the shipment",
    "record_manual_compensation": "Recorded a fix made by hand",
}
COMPENSATIONS = frozenset(
    {"refund_payment", "release_payment", "release_inventory", "cancel_shipment"}
)


class Moment(BaseModel):
    """One line of the timeline."""

    at: datetime | None
    kind: Kind
    title: str
    detail: str = ""
    activity: str = ""
    attempts: int = 1
    took_ms: int | None = None
    failure: str = ""
    ok: bool = True
    local: bool = False


class Told(BaseModel):
    """An order's timeline: the workflow run and its moments, oldest first."""

    run_id: str
    moments: list[Moment]


def _time(stamp: Timestamp) -> datetime | None:
    return stamp.ToDatetime(timezone.utc) if stamp.seconds or stamp.nanos else None


def _ms(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds() * 1000))


class Timeline:
    """Reads an order's history and tells it (``await Timeline(client).of(order_id)``)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def of(self, order_id: str) -> Told:
        """The order's moments, oldest first, and the workflow run they are of.

        Raises:
            OrderNotFound: no workflow for this id.
            RPCError: Temporal did not answer.
        """
        if not ORDER_ID_PATTERN.fullmatch(order_id):
            raise OrderNotFound(order_id)
        handle = self.client.get_workflow_handle(workflow_id(order_id))
        try:
            history = await handle.fetch_history()
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                raise OrderNotFound(order_id) from None
            raise
        run_id = history.run_id
        return Told(run_id=run_id, moments=await self.tell(list(history.events)))

    async def _value(self, payloads: list[Payload]) -> Any:
        if not payloads:
            return None
        values = await self.client.data_converter.decode(payloads)
        return values[0] if values else None

    async def _summary(self, event: HistoryEvent) -> str:
        if not event.HasField("user_metadata") or not event.user_metadata.HasField("summary"):
            return ""
        value = await self._value([event.user_metadata.summary])
        return str(value) if value is not None else ""

    async def tell(self, events: list[HistoryEvent]) -> list[Moment]:
        """The moments of ``events`` (a workflow history)."""
        moments: list[Moment] = []
        scheduled: dict[int, Moment] = {}
        review_timers: set[str] = set()
        for event in events:
            kind = event.event_type
            at = _time(event.event_time)
            if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                moments.append(Moment(at=at, kind="received", title="Order received"))
            elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                activity = event.activity_task_scheduled_event_attributes.activity_type.name
                moment = Moment(
                    at=at,
                    kind="compensation" if activity in COMPENSATIONS else "step",
                    title=TITLES.get(activity, activity),
                    detail=await self._summary(event),
                    activity=activity,
                )
                scheduled[event.event_id] = moment
                moments.append(moment)
            elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                attrs = event.activity_task_started_event_attributes
                started = scheduled.get(attrs.scheduled_event_id)
                if started is not None:
                    started.attempts = attrs.attempt
                    if attrs.HasField("last_failure"):
                        started.failure = attrs.last_failure.message
            elif kind in _ACTIVITY_ENDS:
                self._ended(event, scheduled, at)
            elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
                local = await self._local(event, at)
                if local is not None:
                    moments.append(local)
            elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
                update = await self._update(event, at)
                if update is not None:
                    moments.append(update)
            elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
                # The review window (orders before v6 set no summary), or the card hold's
                # keeper, whose re-authorization shows as its own step.
                summary = await self._summary(event)
                if not summary or summary.startswith(REVIEW_TIMER):
                    review_timers.add(event.timer_started_event_attributes.timer_id)
                    moments.append(Moment(at=at, kind="review", title="Waiting for a reviewer"))
            elif kind == EventType.EVENT_TYPE_TIMER_FIRED:
                if event.timer_fired_event_attributes.timer_id in review_timers:
                    moments.append(
                        Moment(at=at, kind="review", title="The review window ended", ok=False)
                    )
            elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
                moments.append(Moment(at=at, kind="cancel", title="Cancelled through Temporal"))
            elif kind in _WORKFLOW_ENDS:
                moments.append(await self._outcome(event, at))
        return moments

    def _ended(
        self, event: HistoryEvent, scheduled: dict[int, Moment], at: datetime | None
    ) -> None:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            moment = scheduled.get(
                event.activity_task_completed_event_attributes.scheduled_event_id
            )
            failure = ""
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            attrs = event.activity_task_failed_event_attributes
            moment = scheduled.get(attrs.scheduled_event_id)
            failure = attrs.failure.cause.message or attrs.failure.message
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            attrs_t = event.activity_task_timed_out_event_attributes
            moment = scheduled.get(attrs_t.scheduled_event_id)
            failure = "timed out"
        else:
            attrs_c = event.activity_task_canceled_event_attributes
            moment = scheduled.get(attrs_c.scheduled_event_id)
            failure = "cancelled"
        if moment is None:
            return
        moment.took_ms = _ms(moment.at, at)
        if failure:
            moment.ok = False
            moment.failure = failure

    async def _local(self, event: HistoryEvent, at: datetime | None) -> Moment | None:
        marker = event.marker_recorded_event_attributes
        if marker.marker_name != "core_local_activity" or "data" not in marker.details:
            return None
        data = json.loads(marker.details["data"].payloads[0].data or b"{}")
        activity = str(data.get("activity_type", ""))
        start = data.get("original_schedule_time") or {}
        end = data.get("complete_time") or {}
        began = Timestamp(seconds=start.get("seconds", 0), nanos=start.get("nanos", 0))
        ended = Timestamp(seconds=end.get("seconds", 0), nanos=end.get("nanos", 0))
        failure = marker.failure.message if marker.HasField("failure") else ""
        if marker.HasField("failure") and marker.failure.HasField("cause"):
            failure = marker.failure.cause.message or failure
        return Moment(
            at=_time(began) or at,
            kind="compensation" if activity in COMPENSATIONS else "step",
            title=TITLES.get(activity, activity),
            detail=await self._summary(event),
            activity=activity,
            attempts=int(data.get("attempt") or 1),
            took_ms=_ms(_time(began), _time(ended)),
            failure=failure,
            ok=not failure,
            local=True,
        )

    async def _update(self, event: HistoryEvent, at: datetime | None) -> Moment | None:
        request = event.workflow_execution_update_accepted_event_attributes.accepted_request
        name = request.input.name
        value = await self._value(list(request.input.args.payloads))
        given: dict[str, Any] = value if isinstance(value, dict) else {}
        if name == "review":
            who = given.get("reviewer") or "a reviewer"
            note = given.get("note") or "no note"
            approved = bool(given.get("approved"))
            title = f"{'Approved' if approved else 'Rejected'} by {who}"
            return Moment(at=at, kind="review", title=title, detail=note, ok=approved)
        if name == "cancel":
            reason = given.get("reason") or "cancelled on request"
            return Moment(at=at, kind="cancel", title="Cancel requested", detail=reason)
        if name == "resolve":
            who = given.get("operator") or "an operator"
            action = str(given.get("action", "")).replace("_", " ")
            note = given.get("note") or "no note"
            return Moment(
                at=at, kind="operator", title=f"{who.capitalize()}: {action}", detail=note
            )
        return None

    async def _outcome(self, event: HistoryEvent, at: datetime | None) -> Moment:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            return Moment(at=at, kind="outcome", title="Completed")
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            failure = event.workflow_execution_failed_event_attributes.failure
            kind_name = failure.application_failure_info.type
            title = {"OrderCancelled": "Cancelled", "OrderFailed": "Failed"}.get(
                kind_name, "The workflow failed"
            )
            return Moment(at=at, kind="outcome", title=title, detail=failure.message, ok=False)
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
            return Moment(at=at, kind="outcome", title="Cancelled", ok=False)
        return Moment(at=at, kind="outcome", title="Ended in Temporal", ok=False)


_ACTIVITY_ENDS = frozenset(
    {
        EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
    }
)
_WORKFLOW_ENDS = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    }
)
