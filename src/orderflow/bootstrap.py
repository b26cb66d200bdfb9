"""The composition root: the store, the simulated services and the activities, built in one
place for every entry point (worker, API, CLI, legacy, chaos, bench)."""

from __future__ import annotations

from dataclasses import dataclass

from orderflow.adapters.faults import RandomFaults
from orderflow.adapters.simulated import InventorySystem, PaymentGateway, ShippingCarrier
from orderflow.config import Settings
from orderflow.domain.catalog import CATALOG
from orderflow.store import Store, make_engine
from orderflow.workflows.activities import OrderActivities


def build_store(settings: Settings) -> Store:
    """The store, its schema migrated to the newest revision and its catalog seeded."""
    from orderflow.store import schema

    store = Store(make_engine(settings.db_url))
    schema.upgrade(store.engine)
    store.seed_catalog(CATALOG)
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
