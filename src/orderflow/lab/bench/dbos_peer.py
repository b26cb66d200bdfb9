"""The peer a user might pick instead: orderflow's order on DBOS Transact.

The same workload as orderflow's order (``orderflow.lab.bench.order_steps``): validate,
authorize, allocate, then per parcel reserve, quote, book and capture, and record the
outcome, each a DBOS step (checkpointed in DBOS's system database, here SQLite); the total
and each parcel's share are computed inline, as orderflow computes them in workflow code.
The door's check comes first, as in orderflow. Two flavours: the sync API (a workflow
function called from a thread, steps run in that thread) and the async API (coroutines;
the blocking store calls go to a thread with ``asyncio.to_thread``).

Importing this module needs the optional ``dbos`` package (dependency group ``bench``).
DBOS 3.x starts no HTTP server (no admin server, no Conductor without a key): it binds
nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from dbos import DBOS, DBOSConfig

from orderflow.domain.models import (
    AuthorizationReceipt,
    CaptureReceipt,
    Order,
    PricedLine,
    ReservationReceipt,
    ShipmentReceipt,
    ShippingQuote,
    ValidatedOrder,
)
from orderflow.domain.pricing import price_order
from orderflow.lab.bench.order_steps import OrderSteps, shares
from orderflow.store import Store

#: Set by ``dbos_session`` for the steps: DBOS steps are module functions, not closures.
_steps: OrderSteps | None = None


def _svc() -> OrderSteps:
    if _steps is None:
        raise RuntimeError("dbos_session() is not open")
    return _steps


# -- sync API ---------------------------------------------------------------------------------


@DBOS.step(name="bench_validate")
def validate_step(order: Order) -> ValidatedOrder:
    """Validate and price the lines."""
    return _svc().validate(order)


@DBOS.step(name="bench_authorize")
def authorize_step(order_id: str, amount: Decimal, token: str) -> AuthorizationReceipt:
    """Hold the total on the card."""
    return _svc().authorize(order_id, amount, token)


@DBOS.step(name="bench_allocate")
def allocate_step(lines: list[PricedLine]) -> dict[str, list[PricedLine]]:
    """Which warehouse ships which lines."""
    return _svc().allocate(lines)


@DBOS.step(name="bench_reserve")
def reserve_step(order_id: str, lines: list[PricedLine], warehouse: str) -> ReservationReceipt:
    """Hold one parcel's stock."""
    return _svc().reserve(order_id, lines, warehouse)


@DBOS.step(name="bench_quote")
def quote_step(order: Order, lines: list[PricedLine], warehouse: str) -> ShippingQuote:
    """Quote one parcel's shipping."""
    return _svc().quote(order, lines, warehouse)


@DBOS.step(name="bench_book")
def book_step(quote: ShippingQuote) -> ShipmentReceipt:
    """Book one parcel's shipment."""
    return _svc().book(quote)


@DBOS.step(name="bench_capture")
def capture_step(
    order_id: str, authorization: str, amount: Decimal, warehouse: str
) -> CaptureReceipt:
    """Take one parcel's share from the hold."""
    return _svc().capture(order_id, authorization, amount, warehouse)


@DBOS.step(name="bench_finish")
def finish_step(order_id: str, total: Decimal) -> None:
    """Record the outcome."""
    _svc().finish(order_id, total)


@DBOS.workflow(name="bench_order")
def order_workflow(order: Order) -> str:
    """The order's steps in order; returns the first parcel's tracking number."""
    validated = validate_step(order)
    total = price_order(validated.lines, order.service_level).total
    hold = authorize_step(order.order_id, total, order.payment_token)
    parcels = allocate_step(validated.lines)
    share = shares(total, parcels)
    for warehouse, lines in parcels.items():
        reserve_step(order.order_id, lines, warehouse)
    quotes = {w: quote_step(order, lines, w) for w, lines in parcels.items()}
    tracking = []
    for warehouse, quote in quotes.items():
        tracking.append(book_step(quote).tracking_number)
        capture_step(order.order_id, hold.reference, share[warehouse], warehouse)
    finish_step(order.order_id, total)
    return tracking[0]


# -- async API --------------------------------------------------------------------------------


@DBOS.step(name="bench_validate_async")
async def validate_step_async(order: Order) -> ValidatedOrder:
    """``validate_step`` off the event loop."""
    return await asyncio.to_thread(_svc().validate, order)


@DBOS.step(name="bench_authorize_async")
async def authorize_step_async(order_id: str, amount: Decimal, token: str) -> AuthorizationReceipt:
    """``authorize_step`` off the event loop."""
    return await asyncio.to_thread(_svc().authorize, order_id, amount, token)


@DBOS.step(name="bench_allocate_async")
async def allocate_step_async(lines: list[PricedLine]) -> dict[str, list[PricedLine]]:
    """``allocate_step`` off the event loop."""
    return await asyncio.to_thread(_svc().allocate, lines)


@DBOS.step(name="bench_reserve_async")
async def reserve_step_async(
    order_id: str, lines: list[PricedLine], warehouse: str
) -> ReservationReceipt:
    """``reserve_step`` off the event loop."""
    return await asyncio.to_thread(_svc().reserve, order_id, lines, warehouse)


@DBOS.step(name="bench_quote_async")
async def quote_step_async(order: Order, lines: list[PricedLine], warehouse: str) -> ShippingQuote:
    """``quote_step`` off the event loop."""
    return await asyncio.to_thread(_svc().quote, order, lines, warehouse)


@DBOS.step(name="bench_book_async")
async def book_step_async(quote: ShippingQuote) -> ShipmentReceipt:
    """``book_step`` off the event loop."""
    return await asyncio.to_thread(_svc().book, quote)


@DBOS.step(name="bench_capture_async")
async def capture_step_async(
    order_id: str, authorization: str, amount: Decimal, warehouse: str
) -> CaptureReceipt:
    """``capture_step`` off the event loop."""
    return await asyncio.to_thread(_svc().capture, order_id, authorization, amount, warehouse)


@DBOS.step(name="bench_finish_async")
async def finish_step_async(order_id: str, total: Decimal) -> None:
    """``finish_step`` off the event loop."""
    await asyncio.to_thread(_svc().finish, order_id, total)


@DBOS.workflow(name="bench_order_async")
async def order_workflow_async(order: Order) -> str:
    """The order's steps in order, as coroutines; returns the first tracking number."""
    validated = await validate_step_async(order)
    total = price_order(validated.lines, order.service_level).total
    hold = await authorize_step_async(order.order_id, total, order.payment_token)
    parcels = await allocate_step_async(validated.lines)
    share = shares(total, parcels)
    for warehouse, lines in parcels.items():
        await reserve_step_async(order.order_id, lines, warehouse)
    quotes = {w: await quote_step_async(order, lines, w) for w, lines in parcels.items()}
    tracking = []
    for warehouse, quote in quotes.items():
        tracking.append((await book_step_async(quote)).tracking_number)
        await capture_step_async(order.order_id, hold.reference, share[warehouse], warehouse)
    await finish_step_async(order.order_id, total)
    return tracking[0]


# -- lifecycle --------------------------------------------------------------------------------


@contextmanager
def dbos_session(system_db: Path, store: Store) -> Iterator[None]:
    """DBOS launched on a fresh SQLite system database; destroyed (threads joined) after."""
    global _steps
    config: DBOSConfig = {
        "name": "orderflow-bench",
        "system_database_url": f"sqlite:///{system_db}",
        "log_level": "WARNING",
    }
    _steps = OrderSteps.over(store)
    DBOS(config=config)
    try:
        DBOS.launch()
        yield
    finally:
        DBOS.destroy()
        _steps = None
        _restore_default_executor()
        # DBOS logs its shutdown at INFO on its own handler; keep the bench's output clean.
        logging.getLogger("dbos").setLevel(logging.WARNING)


def _restore_default_executor() -> None:
    """Give the running loop a live default executor again.

    DBOS's async API installs its own pool as the loop's default executor and shuts that
    pool down in ``destroy``; ``asyncio.to_thread`` would fail afterwards.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return  # not called from a coroutine: no loop to repair
    loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="asyncio"))


def run_sync(order: Order) -> bool:
    """One order through the door's check and the sync workflow (from a bench thread)."""
    _svc().admit(order)
    return bool(order_workflow(order))


async def run_async(order: Order) -> bool:
    """One order through the door's check and the async workflow."""
    await asyncio.to_thread(_svc().admit, order)
    return bool(await order_workflow_async(order))
