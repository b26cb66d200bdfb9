"""The peer a user might pick instead: the same 5-step order on DBOS Transact.

validate, charge, reserve, quote, book are DBOS steps (checkpointed in DBOS's system
database, here SQLite); the total is computed inline, as orderflow computes it in
workflow code. The steps do the same database work as orderflow's activities (the same
store and simulated services, no injected faults). Two flavours: the sync API (a
workflow function called from a thread, steps run in that thread) and the async API
(coroutines; the blocking store calls go to a thread with ``asyncio.to_thread``).

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
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from dbos import DBOS, DBOSConfig

from orderflow.adapters.simulated import InventorySystem, PaymentGateway, ShippingCarrier
from orderflow.domain.models import (
    Order,
    PaymentReceipt,
    ReservationReceipt,
    ShipmentReceipt,
    ShippingQuote,
    ValidatedOrder,
)
from orderflow.domain.pricing import price_order
from orderflow.domain.validation import validate_order
from orderflow.store import Store


@dataclass
class _Services:
    store: Store
    gateway: PaymentGateway
    inventory: InventorySystem
    carrier: ShippingCarrier


#: Set by ``dbos_session`` for the steps: DBOS steps are module functions, not closures.
_services: _Services | None = None


def _svc() -> _Services:
    if _services is None:
        raise RuntimeError("dbos_session() is not open")
    return _services


# -- sync API ---------------------------------------------------------------------------------


@DBOS.step(name="bench_validate")
def validate_step(order: Order) -> ValidatedOrder:
    """Check the order against the catalog and price its lines."""
    return validate_order(order, _svc().store.catalog())


@DBOS.step(name="bench_charge")
def charge_step(order_id: str, amount: Decimal, token: str) -> PaymentReceipt:
    """Charge the card once per order."""
    return _svc().gateway.charge(order_id, amount, token, f"{order_id}:payment")


@DBOS.step(name="bench_reserve")
def reserve_step(validated: ValidatedOrder) -> ReservationReceipt:
    """Hold the stock."""
    return _svc().inventory.reserve(validated.order.order_id, validated.lines)


@DBOS.step(name="bench_quote")
def quote_step(validated: ValidatedOrder) -> ShippingQuote:
    """Quote the shipping."""
    order = validated.order
    return _svc().carrier.quote(order.order_id, validated.lines, order.service_level)


@DBOS.step(name="bench_book")
def book_step(quote: ShippingQuote) -> ShipmentReceipt:
    """Book the shipment."""
    return _svc().carrier.book(quote.order_id, quote)


@DBOS.workflow(name="bench_order")
def order_workflow(order: Order) -> str:
    """The five steps in order; returns the tracking number."""
    validated = validate_step(order)
    total = price_order(validated.lines, order.service_level)
    charge_step(order.order_id, total.total, order.payment_token)
    reserve_step(validated)
    quote = quote_step(validated)
    return book_step(quote).tracking_number


# -- async API --------------------------------------------------------------------------------


@DBOS.step(name="bench_validate_async")
async def validate_step_async(order: Order) -> ValidatedOrder:
    """``validate_step`` off the event loop."""
    return await asyncio.to_thread(validate_order, order, _svc().store.catalog())


@DBOS.step(name="bench_charge_async")
async def charge_step_async(order_id: str, amount: Decimal, token: str) -> PaymentReceipt:
    """``charge_step`` off the event loop."""
    return await asyncio.to_thread(
        _svc().gateway.charge, order_id, amount, token, f"{order_id}:payment"
    )


@DBOS.step(name="bench_reserve_async")
async def reserve_step_async(validated: ValidatedOrder) -> ReservationReceipt:
    """``reserve_step`` off the event loop."""
    return await asyncio.to_thread(
        _svc().inventory.reserve, validated.order.order_id, validated.lines
    )


@DBOS.step(name="bench_quote_async")
async def quote_step_async(validated: ValidatedOrder) -> ShippingQuote:
    """``quote_step`` (no I/O: the carrier's quote is arithmetic)."""
    order = validated.order
    return _svc().carrier.quote(order.order_id, validated.lines, order.service_level)


@DBOS.step(name="bench_book_async")
async def book_step_async(quote: ShippingQuote) -> ShipmentReceipt:
    """``book_step`` off the event loop."""
    return await asyncio.to_thread(_svc().carrier.book, quote.order_id, quote)


@DBOS.workflow(name="bench_order_async")
async def order_workflow_async(order: Order) -> str:
    """The five steps in order, as coroutines; returns the tracking number."""
    validated = await validate_step_async(order)
    total = price_order(validated.lines, order.service_level)
    await charge_step_async(order.order_id, total.total, order.payment_token)
    await reserve_step_async(validated)
    quote = await quote_step_async(validated)
    return (await book_step_async(quote)).tracking_number


# -- lifecycle --------------------------------------------------------------------------------


@contextmanager
def dbos_session(system_db: Path, store: Store) -> Iterator[None]:
    """DBOS launched on a fresh SQLite system database; destroyed (threads joined) after."""
    global _services
    config: DBOSConfig = {
        "name": "orderflow-bench",
        "system_database_url": f"sqlite:///{system_db}",
        "log_level": "WARNING",
    }
    _services = _Services(
        store, PaymentGateway(store), InventorySystem(store), ShippingCarrier(store)
    )
    DBOS(config=config)
    try:
        DBOS.launch()
        yield
    finally:
        DBOS.destroy()
        _services = None
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
    """One order through the sync workflow (called from a bench thread)."""
    return bool(order_workflow(order))


async def run_async(order: Order) -> bool:
    """One order through the async workflow."""
    return bool(await order_workflow_async(order))
