"""The demo: a seeded batch of varied orders through the real stack, then the audit.

It runs the embedded Temporal server if none answers (and stops only what it started),
and always its own worker on a task queue of its own (``demo-<batch>``), so its fault
rates are the ones in force and no other worker (a stale one, or one Temporal still
lists after it died) can take its orders.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

from orderflow.bootstrap import build_activities, build_service, build_store, connect_client
from orderflow.config import Settings
from orderflow.lab.batch import audited, new_batch_id, run_batch
from orderflow.lab.samples import generate_orders
from orderflow.lab.summary import RunReport
from orderflow.store.db import display_url
from orderflow.temporal.devserver import DevServer, is_listening, wait_for_namespace
from orderflow.worker import running_worker


@dataclass(frozen=True)
class DemoRun:
    """What the demo came to, and where to look at it."""

    report: RunReport
    task_queue: str
    store_url: str
    started_server: bool


async def run_demo(
    settings: Settings,
    orders: int,
    seed: int,
    say: Callable[[str], None],
    on_progress: Callable[[RunReport], None] | None = None,
) -> DemoRun:
    """Run ``orders`` seeded orders; ``say`` gets every line meant for a person,
    ``on_progress`` the report as it fills.

    Raises:
        DevServerError: the embedded server could not start.
        TemporalUnavailable, StoreUnavailable.
    """
    batch = new_batch_id("demo")
    settings = settings.model_copy(update={"task_queue": batch.rstrip("-")})
    started = False
    async with AsyncExitStack() as stack:
        if not is_listening(settings.temporal_address):
            say(f"starting the embedded Temporal server on {settings.temporal_address}")
            dev = DevServer(settings)
            dev.start()
            stack.callback(dev.stop)
            started = True
        await wait_for_namespace(settings)
        client = await connect_client(settings)
        store = build_store(settings)
        stack.callback(store.engine.dispose)
        say(
            f"store: {display_url(settings.db_url)}; a worker of the demo's own on task queue "
            f"{settings.task_queue!r}; faults: payment {settings.payment_failure_rate:.0%}, "
            f"inventory {settings.inventory_failure_rate:.0%}, shipping "
            f"{settings.shipping_failure_rate:.0%} (lost responses "
            f"{settings.lost_response_share:.0%} of failures), seed {seed}"
        )
        await stack.enter_async_context(
            running_worker(client, settings, build_activities(store, settings))
        )
        service = build_service(client, store, settings)
        batch_orders = generate_orders(orders, seed, batch)
        say(f"submitting {orders} orders (batch {batch.rstrip('-')}) ...")
        report = RunReport(mode="demo", batch=batch, orders=len(batch_orders))
        results = await run_batch(service, batch_orders, report=report, on_progress=on_progress)
        audited(report, store, results)
        report.ui_url = settings.ui_url
    return DemoRun(
        report=report,
        task_queue=settings.task_queue,
        store_url=display_url(settings.db_url),
        started_server=started,
    )
