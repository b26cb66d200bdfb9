"""Workflow-test helpers: a store, services with scripted faults, a worker per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from orderflow.adapters.faults import NO_FAULTS, FaultPlan
from orderflow.adapters.simulated import InventorySystem, PaymentGateway, ShippingCarrier
from orderflow.config import Settings
from orderflow.domain.catalog import CATALOG
from orderflow.store import Store, make_engine
from orderflow.worker import running_worker
from orderflow.workflows.activities import OrderActivities
from orderflow.workflows.messages import OrderOptions, RetryOptions

#: Fast retries so exhausting three attempts takes milliseconds, not seconds; the
#: default activity mode (test_order_workflow.py also runs in every other mode).
FAST = OrderOptions(
    steps=RetryOptions(max_attempts=3, initial_interval_ms=10, max_interval_ms=20),
    compensations=RetryOptions(max_attempts=4, initial_interval_ms=10, max_interval_ms=20),
    activity_mode=Settings.model_fields["activity_mode"].default,
    status_updates=Settings.model_fields["status_updates"].default,
)
STOCK = 50


@pytest.fixture
def store(data_dir: Path) -> Store:
    """A fresh SQLite store with the catalog and STOCK units of every SKU."""
    store = Store(make_engine(f"sqlite:///{data_dir / 'orderflow.db'}"))
    store.create_schema()
    store.seed_catalog(CATALOG)
    for product in CATALOG:
        store.restock(product.sku, STOCK)
    return store


def make_activities(
    store: Store,
    payment: FaultPlan = NO_FAULTS,
    inventory: FaultPlan = NO_FAULTS,
    shipping: FaultPlan = NO_FAULTS,
) -> OrderActivities:
    """Real activities over the store, with the given fault plan per service."""
    return OrderActivities(
        store,
        PaymentGateway(store, payment),
        InventorySystem(store, inventory),
        ShippingCarrier(store, shipping),
    )


@asynccontextmanager
async def worker_for(
    client: Client,
    task_queue: str,
    activities: OrderActivities,
    replace: Sequence[Callable[..., Any]] = (),
) -> AsyncIterator[None]:
    """Run a worker on ``task_queue``; ``replace`` swaps in mocks registered by name."""
    settings = Settings(task_queue=task_queue, activity_threads=8)
    if replace:
        names = {getattr(fn, "__temporal_activity_definition").name for fn in replace}
        kept = [
            fn
            for fn in activities.all()
            if getattr(fn, "__temporal_activity_definition").name not in names
        ]
        activities = _Swapped(activities, [*kept, *replace])
    async with running_worker(client, settings, activities):
        yield


class _Swapped(OrderActivities):
    def __init__(self, base: OrderActivities, functions: list[Callable[..., Any]]) -> None:
        super().__init__(base.store, base.gateway, base.inventory, base.carrier)
        self._functions = functions

    def all(self) -> list[Callable[..., object]]:
        return list(self._functions)
