"""Refunds and returns of delivered orders: /orders/{id}/refunds, /orders/{id}/returns,
/returns/{id} and /returns/{id}/receive."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response

from orderflow.api.deps import ServiceDep, SettingsDep, bounded, require_api_key
from orderflow.api.routes.common import COMMON, problems
from orderflow.app.aftersale import ReceiveCreate, RefundCreate, ReturnCreate
from orderflow.domain.models import AfterSale

router = APIRouter(
    tags=["refunds and returns"], dependencies=[Depends(require_api_key)], responses=COMMON
)


def _answer(request: Request, response: Response, sale: AfterSale, new: bool) -> AfterSale:
    response.status_code = 202 if new else 200
    response.headers["Location"] = str(
        request.app.url_path_for("get_return", return_id=sale.return_id)
    )
    return sale


@router.post(
    "/orders/{order_id}/refunds",
    status_code=202,
    responses={200: {"description": "A repeat: the refund already exists"}, **problems(404, 409)},
)
async def refund_order(
    order_id: str,
    refund: RefundCreate,
    request: Request,
    response: Response,
    service: ServiceDep,
    settings: SettingsDep,
) -> AfterSale:
    """Refund a COMPLETED order, with a reason: in full (no ``amount``, no ``lines``), an
    ``amount``, or ``lines`` (their goods and tax). Answers 202 with the refund (status
    ``requested``; GET it or the order to see it ``refunded``). At most what the order has
    left to refund (422 naming ``amount``); the same ``refund_id`` again is the same refund
    (200); 409 when the order is not completed or has nothing left to refund."""
    sale, new = await bounded(service.refund(order_id, refund), settings)
    return _answer(request, response, sale, new)


@router.post(
    "/orders/{order_id}/returns",
    status_code=202,
    responses={200: {"description": "A repeat: the return already exists"}, **problems(404, 409)},
)
async def open_return(
    order_id: str,
    opened: ReturnCreate,
    request: Request,
    response: Response,
    service: ServiceDep,
    settings: SettingsDep,
) -> AfterSale:
    """Open a customer return of a COMPLETED order's units, with a reason. It waits for
    the items for the return window (``ORDERFLOW_RETURN_WINDOW_S``, 30 days); received
    (POST /returns/{id}/receive), they go back on the shelf and their goods and tax are
    refunded; not received in time, it expires and nothing is refunded."""
    sale, new = await bounded(service.open_return(order_id, opened), settings)
    return _answer(request, response, sale, new)


@router.get("/orders/{order_id}/returns", responses=problems(404))
async def list_returns(
    order_id: str, service: ServiceDep, settings: SettingsDep
) -> list[AfterSale]:
    """The order's refunds and returns, oldest first."""
    state = await bounded(service.status(order_id), settings)
    return state.returns


@router.get("/returns/{return_id}", name="get_return", responses=problems(404))
async def get_return(return_id: str, service: ServiceDep) -> AfterSale:
    """One refund or return."""
    return service.after_sale(return_id)


@router.post("/returns/{return_id}/receive", responses=problems(404, 409))
async def receive_return(
    return_id: str,
    service: ServiceDep,
    settings: SettingsDep,
    received: Annotated[ReceiveCreate | None, Body()] = None,
) -> AfterSale:
    """A return's items arrived: they go back on the shelves they shipped from and the
    refund is paid; answers with the settled return. 409 when it awaits no items."""
    ask = received or ReceiveCreate()
    return await bounded(service.receive_return(return_id, ask), settings)
