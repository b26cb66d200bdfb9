"""The composition root: the store, the simulated services and the activities, built in one
place for every entry point (worker, API, CLI, legacy, chaos, bench)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orderflow.adapters.faults import RandomFaults
from orderflow.adapters.simulated import InventorySystem, PaymentGateway, ShippingCarrier
from orderflow.config import Settings
from orderflow.domain.catalog import CATALOG
from orderflow.store import Store, make_engine
from orderflow.workflows.activities import OrderActivities
from orderflow.workflows.messages import OrderOptions, RetryOptions

if TYPE_CHECKING:
    from temporalio.client import Client
    from temporalio.runtime import Runtime

    from orderflow.app.orders import OrderService


def build_store(settings: Settings, *, url: str | None = None, create: bool = True) -> Store:
    """The store, its schema migrated to the newest revision and its catalog seeded.

    ``url``: another database than the shop's (the legacy processor's). ``create=False``:
    a SQLite file that does not exist yet is an error, not a new empty database (commands
    that only read, like ``audit``, must not answer "0 orders" from a fresh file).

    Raises:
        StoreUnavailable: the database does not answer, or does not exist (``create=False``);
            the URL is shown without its password.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from orderflow.app.errors import StoreUnavailable
    from orderflow.store import schema
    from orderflow.store.db import display_url

    url = url or settings.db_url
    parsed = make_url(url)
    file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if not create and file and file != ":memory:" and not Path(file).exists():
        raise StoreUnavailable(
            display_url(url),
            f"nothing has run with the data directory {settings.data_dir} yet; set "
            "ORDERFLOW_DATA_DIR or DATABASE_URL",
            missing=True,
        )
    store = Store(make_engine(url))
    try:
        schema.upgrade(store.engine)
        store.seed_catalog(CATALOG)
    except (SQLAlchemyError, schema.SchemaError) as err:
        store.engine.dispose()
        detail = str(getattr(err, "orig", None) or err).strip().splitlines()[0][:200]
        raise StoreUnavailable(display_url(url), detail) from None
    return store


@dataclass(frozen=True)
class OutsideWorld:
    """The simulated services an order talks to, each over a port of the store."""

    gateway: PaymentGateway
    inventory: InventorySystem
    carrier: ShippingCarrier


def build_world(store: Store, settings: Settings) -> OutsideWorld:
    """The simulated services, each with its own seeded fault plan from ``settings``."""

    def faults(rate: float, offset: int) -> RandomFaults:
        seed = None if settings.seed is None else settings.seed * 1000 + offset
        return RandomFaults(
            rate=rate,
            lost_share=settings.lost_response_share,
            seed=seed,
            slow_share=settings.slow_share,
            slow_seconds=settings.slow_seconds,
        )

    return OutsideWorld(
        gateway=PaymentGateway(store, faults(settings.payment_failure_rate, 1)),
        inventory=InventorySystem(store, faults(settings.inventory_failure_rate, 2)),
        carrier=ShippingCarrier(store, faults(settings.shipping_failure_rate, 3)),
    )


def build_activities(store: Store, settings: Settings) -> OrderActivities:
    """The order's activities over the store and the simulated services."""
    world = build_world(store, settings)
    return OrderActivities(store, world.gateway, world.inventory, world.carrier)


def order_options(settings: Settings) -> OrderOptions:
    """The options new orders start with (retries, review, activity mode, status updates)."""
    return OrderOptions(
        steps=RetryOptions(max_attempts=settings.max_attempts),
        compensations=OrderOptions().compensations.model_copy(
            update={"max_attempts": settings.compensation_max_attempts}
        ),
        review_threshold=settings.review_threshold,
        review_timeout_s=settings.review_timeout_s,
        activity_mode=settings.activity_mode,
        status_search_attribute=settings.status_search_attribute,
        status_updates=settings.status_updates,
        authorization_ttl_s=settings.authorization_ttl_s,
    )


def build_service(
    client: Client, store: Store, settings: Settings, options: OrderOptions | None = None
) -> OrderService:
    """The order service every door uses, over a connected client and the store."""
    from orderflow.app.orders import OrderService

    return OrderService(
        client,
        store,
        settings.task_queue,
        options or order_options(settings),
        stall_after_s=settings.stall_after_s,
        return_window_s=settings.return_window_s,
    )


async def connect_client(settings: Settings, runtime: Runtime | None = None) -> Client:
    """A Temporal client for ``settings`` (Decimal-exact, encrypted payloads).

    Raises:
        TemporalUnavailable: nothing answers at ``settings.temporal_address``.
    """
    from orderflow.app.errors import TemporalUnavailable
    from orderflow.temporal.client import connect

    try:
        return await connect(settings, runtime)
    except RuntimeError as err:
        raise TemporalUnavailable(settings.temporal_address, _why(str(err))) from None


def _why(message: str) -> str:
    """A few words for the SDK's connection error (its text is a Rust debug dump)."""
    lowered = message.lower()
    for needle, words in (
        ("refused", "connection refused"),
        ("dns error", "unknown host"),
        ("timed out", "timed out"),
        ("certificate", "a TLS certificate problem"),
        ("tls", "a TLS problem"),
    ):
        if needle in lowered:
            return words
    return ""


@asynccontextmanager
async def connected_service(settings: Settings) -> AsyncIterator[OrderService]:
    """The order service on a fresh client and store, for as long as the block runs.

    Raises:
        TemporalUnavailable, StoreUnavailable.
    """
    client = await connect_client(settings)
    store = await asyncio.to_thread(build_store, settings)
    try:
        yield build_service(client, store, settings)
    finally:
        store.engine.dispose()
