"""Composition root: build the store and services, register the workflow and activities."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from orderflow.config import Settings
from orderflow.domain.catalog import CATALOG
from orderflow.services.faults import RandomFaults
from orderflow.services.simulated import InventorySystem, PaymentGateway, ShippingCarrier
from orderflow.store import Store, make_engine
from orderflow.temporal_client import ensure_search_attributes
from orderflow.workflows.activities import OrderActivities
from orderflow.workflows.order import OrderWorkflow

log = logging.getLogger("orderflow.worker")


def build_store(settings: Settings) -> Store:
    """The store, with its schema and catalog created on first start."""
    store = Store(make_engine(settings.db_url))
    store.create_schema()
    store.seed_catalog(CATALOG)
    return store


def build_activities(store: Store, settings: Settings) -> OrderActivities:
    """Activities over the simulated services, each with its own seeded fault plan."""

    def faults(rate: float, offset: int) -> RandomFaults:
        seed = None if settings.seed is None else settings.seed * 1000 + offset
        return RandomFaults(rate=rate, lost_share=settings.lost_response_share, seed=seed)

    return OrderActivities(
        store,
        PaymentGateway(store, faults(settings.payment_failure_rate, 1)),
        InventorySystem(store, faults(settings.inventory_failure_rate, 2)),
        ShippingCarrier(store, faults(settings.shipping_failure_rate, 3)),
    )


@asynccontextmanager
async def running_worker(
    client: Client, settings: Settings, activities: OrderActivities
) -> AsyncIterator[Worker]:
    """A worker polling ``settings.task_queue`` for as long as the block runs."""
    with ThreadPoolExecutor(
        max_workers=settings.activity_threads, thread_name_prefix="activity"
    ) as executor:
        worker = Worker(
            client,
            task_queue=settings.task_queue,
            workflows=[OrderWorkflow],
            activities=activities.all(),
            activity_executor=executor,
            max_concurrent_activities=settings.activity_threads,
        )
        async with worker:
            yield worker


async def run_worker(settings: Settings, client: Client) -> None:
    """Run a worker until SIGINT/SIGTERM, then shut down gracefully."""
    store = build_store(settings)
    activities = build_activities(store, settings)
    try:
        await ensure_search_attributes(client)
    except RPCError as err:
        log.warning("could not register the OrderStatus search attribute: %s", err.message)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_worker(client, settings, activities):
        log.info(
            "worker polling task queue %r on %s (namespace %r); faults: payment %.0f%%, "
            "inventory %.0f%%, shipping %.0f%%",
            settings.task_queue,
            settings.temporal_address,
            settings.temporal_namespace,
            settings.payment_failure_rate * 100,
            settings.inventory_failure_rate * 100,
            settings.shipping_failure_rate * 100,
        )
        await stop.wait()
        log.info("worker stopping")
    store.engine.dispose()
