"""The console's screens (GET): overview, orders, one order, what needs a human, inventory,
payments and the new-order form. Lists and counts are read from the store's read model;
an order's state and timeline from Temporal (one order at a time).

A page asked for with ``?part=live`` answers only its live region (the page's script polls
it); without a session that answers 401, and the script reloads into the login page.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from orderflow.api.deps import bounded
from orderflow.app.errors import NoWorker, OrderRejected
from orderflow.app.views import PAGE_SIZE
from orderflow.console import charts
from orderflow.console.web import (
    Console,
    idempotency_key,
    render,
    session_of,
    to_login,
)
from orderflow.domain.catalog import DEFAULT_WAREHOUSE, WAREHOUSES
from orderflow.domain.models import ServiceLevel
from orderflow.domain.status import OrderStatus
from orderflow.workflows.messages import OrderState, ResolutionAction

router = APIRouter()

#: How many line rows the new-order form has.
FORM_LINES = 5
#: How long an order's page waits for a worker to answer its state.
QUERY_WAIT_S = 3.0


def console_of(request: Request) -> Console:
    """The console this sub-application serves."""
    console = request.app.state.console
    assert isinstance(console, Console)
    return console


ConsoleDep = Annotated[Console, Depends(console_of)]
Part = Annotated[str, Query(max_length=8, description="'live': only the live region")]


def _signed_in(request: Request, console: Console) -> Response | None:
    """None when the request has a session; otherwise what to answer instead."""
    if session_of(request, console) is not None:
        return None
    if request.query_params.get("part") == "live":
        return Response(status_code=401)
    return to_login(request)


def _page(
    request: Request, console: Console, template: str, part: str, **values: Any
) -> HTMLResponse:
    """The whole page, or its live region alone when ``part`` is ``live``."""
    name = f"parts/{template}" if part == "live" else template
    return render(request, console, name, session_of(request, console), **values)


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, console: ConsoleDep, part: Part = "") -> Response:
    """The shop at a glance."""
    if (refused := _signed_in(request, console)) is not None:
        return refused
    view = await run_in_threadpool(console.views.overview)
    return _page(
        request,
        console,
        "overview.html",
        part,
        view=view,
        per_minute=charts.per_minute(view.minutes),
        reasons=charts.reasons(view.failures),
        statuses=[s.value for s in OrderStatus],
    )


@router.get("/orders", response_class=HTMLResponse)
async def orders(
    request: Request,
    console: ConsoleDep,
    state: Annotated[str, Query(max_length=32, description="Only orders in this state")] = "",
    q: Annotated[str, Query(max_length=64, description="Order id prefix or customer id")] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    part: Part = "",
) -> Response:
    """Orders, newest first: filtered by state, searched by order or customer id."""
    if (refused := _signed_in(request, console)) is not None:
        return refused
    statuses = [s.value for s in OrderStatus]
    if state and state not in statuses:
        raise OrderRejected.one("state", f"must be one of {', '.join(statuses)}", "InvalidRequest")
    listing = await run_in_threadpool(
        lambda: console.views.orders(state=state or None, search=q, page=page)
    )
    return _page(
        request,
        console,
        "orders.html",
        part,
        listing=listing,
        page_size=PAGE_SIZE,
        statuses=statuses,
    )


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order(request: Request, order_id: str, console: ConsoleDep, part: Part = "") -> Response:
    """One order: its state, its saga as a timeline, its parcels, its money, its actions."""
    if (refused := _signed_in(request, console)) is not None:
        return refused
    settings = console.settings
    told = await bounded(console.timeline.of(order_id), settings)
    state: OrderState | None
    note = ""
    try:
        # A running order's state is a query a worker answers: do not hang the page on it.
        state = await asyncio.wait_for(console.service.status(order_id), QUERY_WAIT_S)
        if state.note:
            note = state.note
    except NoWorker as err:
        state, note = None, str(err)
    except asyncio.TimeoutError:
        state = None
        note = (
            f"no worker answered for this order within {QUERY_WAIT_S:g} s (is one running on "
            f"task queue {console.service.task_queue!r}?): shown as the database last saw it"
        )
    ledger = await run_in_threadpool(lambda: console.views.ledger(order_id=order_id))
    row = await run_in_threadpool(console.service.store.order_row, order_id)
    resolutions = []
    if state is not None and state.status is OrderStatus.NEEDS_ATTENTION:
        resolutions = [ResolutionAction.RETRY] + [
            action for action in ResolutionAction if action.settling(state.owed) is not None
        ]
    temporal_link = f"{settings.ui_url}/order-{order_id}/{told.run_id}/history"
    return _page(
        request,
        console,
        "order.html",
        part,
        order_id=order_id,
        state=state,
        note=note,
        moments=told.moments,
        ledger=ledger,
        row=row,
        due_at=row.due_at if row is not None else None,
        customer=(row.customer_id if row is not None else "") or "",
        resolutions=resolutions,
        temporal_link=temporal_link,
        form_key=idempotency_key(),
    )


@router.get("/attention", response_class=HTMLResponse)
async def attention(request: Request, console: ConsoleDep, part: Part = "") -> Response:
    """One queue of everything that waits for a person, each with its action."""
    if (refused := _signed_in(request, console)) is not None:
        return refused
    queue = await run_in_threadpool(console.views.human_queue)
    return _page(request, console, "attention.html", part, queue=queue)


@router.get("/inventory", response_class=HTMLResponse)
async def inventory(request: Request, console: ConsoleDep) -> Response:
    """Units per warehouse and SKU; restock and set."""
    if (refused := _signed_in(request, console)) is not None:
        return refused
    levels = await run_in_threadpool(console.service.inventory)
    catalog = await run_in_threadpool(console.service.store.catalog)
    return _page(
        request,
        console,
        "inventory.html",
        "",
        levels=levels,
        skus=sorted(catalog),
        warehouses=list(WAREHOUSES),
        default_warehouse=DEFAULT_WAREHOUSE,
        restock_key=idempotency_key(),
    )


@router.get("/payments", response_class=HTMLResponse)
async def payments(
    request: Request,
    console: ConsoleDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    """The ledger, totals per day, and whether it reconciles with the orders."""
    if (refused := _signed_in(request, console)) is not None:
        return refused
    ledger = await run_in_threadpool(lambda: console.views.ledger(page=page, totals=True))
    return _page(request, console, "payments.html", "", ledger=ledger)


@router.get("/new", response_class=HTMLResponse)
async def new_order(request: Request, console: ConsoleDep) -> Response:
    """The form for phone orders (and for trying the demo)."""
    if (refused := _signed_in(request, console)) is not None:
        return refused
    return await order_form(request, console)


async def order_form(
    request: Request,
    console: Console,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    summary: list[str] | None = None,
    key: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    """The new-order form, empty or as submitted with its errors (never the card token)."""
    catalog = await run_in_threadpool(console.service.store.catalog)
    return render(
        request,
        console,
        "new_order.html",
        session_of(request, console),
        status_code=status_code,
        values=values or {"country": "GB", "service_level": ServiceLevel.STANDARD.value},
        errors=errors or {},
        summary=summary or [],
        products=sorted(catalog.values(), key=lambda p: p.sku),
        service_levels=[level.value for level in ServiceLevel],
        lines=range(FORM_LINES),
        order_key=key or idempotency_key(),
    )
