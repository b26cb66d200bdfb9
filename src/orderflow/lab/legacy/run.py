"""Run a batch through the naive processor and report it like the demo does."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from orderflow.bootstrap import OutsideWorld
from orderflow.domain.catalog import DEFAULT_WAREHOUSE
from orderflow.domain.models import Order
from orderflow.lab.batch import seed_inventory
from orderflow.lab.legacy.processor import LegacyOrderProcessor
from orderflow.lab.summary import RunReport
from orderflow.store import Store
from orderflow.store.audit import run_audit


def run_legacy_batch(
    store: Store,
    world: OutsideWorld,
    orders: Sequence[Order],
    *,
    batch: str,
    concurrency: int = 8,
    on_progress: Callable[[RunReport], None] | None = None,
) -> RunReport:
    """Process ``orders`` with the legacy processor over a store and the faulty services."""
    processor = LegacyOrderProcessor(store, world.gateway, world.inventory, world.carrier)
    report = RunReport(mode="legacy", batch=batch, orders=len(orders))
    seed_inventory(store, orders, into=DEFAULT_WAREHOUSE)  # it ships from one warehouse
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for outcome in pool.map(processor.process_order, orders):
            if outcome["status"] == "completed":
                report.completed += 1
            else:
                report.failed += 1
                report.count_reason(f"legacy: {outcome['error']}: {outcome['reason']}")
            report.retries = processor.retries
            if on_progress is not None:
                on_progress(report)
    report.retries = processor.retries
    report.seconds = time.monotonic() - started
    report.attach_audit(run_audit(store.engine, order_prefix=batch), [])
    return report
