"""/orders: submit (idempotently), look up, list, cancel and review orders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response

from orderflow.api.deps import ServiceDep, SettingsDep, bounded, require_api_key
from orderflow.api.routes.common import COMMON, problems
from orderflow.api.schemas import (
    OrderCancel,
    OrderCreate,
    OrderPublic,
    OrderResolve,
    OrderReview,
    PricedOrderPublic,
)
from orderflow.app.orders import OrderSummary, new_order_id, order_id_for_key
from orderflow.domain.status import OrderStatus
from orderflow.workflows.messages import Resolution, ReviewDecision

router = APIRouter(
    prefix="/orders",
    tags=["orders"],
    dependencies=[Depends(require_api_key)],
    responses=COMMON,
)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description=(
            "Makes the submission safe to repeat: the same key is the same order (200 and the "
            "same body, never a second charge); the same key with a different body is 409."
        ),
    ),
]


@router.post(
    "",
    status_code=201,
    responses={
        200: {"model": PricedOrderPublic, "description": "A repeat: the order already exists"},
        **problems(409),
    },
)
async def create_order(
    order: OrderCreate,
    request: Request,
    response: Response,
    service: ServiceDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> PricedOrderPublic:
    """Submit an order; answers 201 with the validated, priced order (and its Location).

    The order id is ``order_id`` from the body if given, else derived from the
    Idempotency-Key header, else new. A repeat (same id, same body) answers 200 with the
    same order and charges nothing more; the same id with a different body is 409.
    Invalid orders are 422 naming the field; nothing is charged or reserved for them.
    """
    if order.order_id:
        order_id = order.order_id
    elif idempotency_key:
        order_id = order_id_for_key(idempotency_key)
    else:
        order_id = new_order_id()
    submission = await bounded(service.submit(order.to_order(order_id)), settings)
    response.status_code = 201 if submission.new else 200
    response.headers["Location"] = str(request.app.url_path_for("get_order", order_id=order_id))
    return PricedOrderPublic.from_priced(submission.order)


@router.get("")
async def list_orders(
    service: ServiceDep,
    settings: SettingsDep,
    status: Annotated[
        OrderStatus | None,
        Query(
            description="Only orders in this status (the OrderStatus search attribute: by "
            "default written only where an order waits for someone or went wrong; an order "
            "without one is RECEIVED while it runs, COMPLETED once it completed)."
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[OrderSummary]:
    """Orders, newest first. Listing is eventually consistent: a new order may lag a moment."""
    return await bounded(service.list_orders(status, limit), settings)


@router.get("/{order_id}", name="get_order", responses=problems(404))
async def get_order(order_id: str, service: ServiceDep, settings: SettingsDep) -> OrderPublic:
    """The order's status, current step, total, shipments, compensations and attempts."""
    return OrderPublic.from_state(await bounded(service.status(order_id), settings))


@router.post("/{order_id}/cancel", responses=problems(404, 409))
async def cancel_order(
    order_id: str,
    service: ServiceDep,
    settings: SettingsDep,
    cancel: Annotated[OrderCancel | None, Body()] = None,
) -> OrderPublic:
    """Cancel an order whose shipment is not booked; answers with its final state.

    Exactly the compensations owed run (refund, release) before the answer. 409 when it
    is too late (shipment booked, or the order already finished), saying why.
    """
    reason = cancel.reason if cancel else ""
    return OrderPublic.from_state(await bounded(service.cancel(order_id, reason), settings))


@router.post("/{order_id}/approve", responses=problems(404, 409))
async def review_order(
    order_id: str, review: OrderReview, service: ServiceDep, settings: SettingsDep
) -> OrderPublic:
    """Approve (``approved: true``) or reject an order awaiting review; 409 otherwise."""
    decision = ReviewDecision(approved=review.approved, reviewer=review.reviewer, note=review.note)
    return OrderPublic.from_state(await bounded(service.review(order_id, decision), settings))


@router.post("/{order_id}/resolve", responses=problems(404, 409))
async def resolve_order(
    order_id: str, resolution: OrderResolve, service: ServiceDep, settings: SettingsDep
) -> OrderPublic:
    """Settle an order that NEEDS_ATTENTION: ``retry`` its failed compensations, or record
    one done by hand (``mark_refunded``, ``mark_released``, ``mark_cancelled``) with who
    and why. 409 when the order does not wait for an operator or nothing of that is owed."""
    decision = Resolution(
        action=resolution.action, operator=resolution.operator, note=resolution.note
    )
    return OrderPublic.from_state(await bounded(service.resolve(order_id, decision), settings))
