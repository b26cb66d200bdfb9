"""Running workers: register the workflow and activities, poll until told to stop."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from orderflow.bootstrap import build_activities, build_store
from orderflow.config import Settings
from orderflow.store.db import display_url
from orderflow.temporal.client import ensure_search_attributes
from orderflow.temporal.codec import key_ids
from orderflow.temporal.sandbox import workflow_runner
from orderflow.workflows.activities import OrderActivities
from orderflow.workflows.aftersale import AfterSaleWorkflow
from orderflow.workflows.observability import ORDER_STATUS
from orderflow.workflows.order import OrderWorkflow
from orderflow.workflows.reconcile import ReconcileWorkflow

log = logging.getLogger("orderflow.worker")
#: Logged once a worker polls: supervisors (chaos, the bench) wait for it.
READY_LINE = "worker polling task queue"


@functools.cache
def worker_build_id() -> str:
    """``orderflow-<hash of the package's source>``: names the code a worker runs.

    Given explicitly because the SDK's default hashes the code of every loaded module,
    compiling each one when no bytecode cache is written (PYTHONDONTWRITEBYTECODE): about a
    CPU-second per worker start, paid again at every restart.
    """
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return f"orderflow-{digest.hexdigest()[:12]}"


@asynccontextmanager
async def running_worker(
    client: Client, settings: Settings, activities: OrderActivities, **tuning: Any
) -> AsyncIterator[Worker]:
    """A worker polling ``settings.task_queue`` for as long as the block runs.

    ``tuning``: further ``Worker`` options (pollers, task slots), as the bench uses them.
    """
    threads = settings.activity_threads
    # Regular and local activities each get ``threads`` slots and share one pool, sized so
    # that a local activity never queues for a thread while its timeout runs.
    with ThreadPoolExecutor(max_workers=2 * threads, thread_name_prefix="activity") as executor:
        tuning.setdefault("workflow_runner", workflow_runner(settings.workflow_sandbox))
        worker = Worker(
            client,
            task_queue=settings.task_queue,
            workflows=[OrderWorkflow, ReconcileWorkflow, AfterSaleWorkflow],
            activities=activities.all(),
            activity_executor=executor,
            max_concurrent_activities=threads,
            max_concurrent_local_activities=threads,
            build_id=worker_build_id(),
            **tuning,
        )
        async with worker:
            yield worker


async def run_worker(settings: Settings, client: Client) -> None:
    """Run a worker until SIGINT/SIGTERM, then shut down gracefully."""
    store = build_store(settings)
    activities = build_activities(store, settings)
    try:
        await ensure_search_attributes(client, [ORDER_STATUS])
    except RPCError as err:
        log.warning("could not register the OrderStatus search attribute: %s", err.message)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_worker(client, settings, activities):
        log.info(
            READY_LINE + " %r on %s (namespace %r); faults: payment %.0f%%, "
            "inventory %.0f%%, shipping %.0f%%",
            settings.task_queue,
            settings.temporal_address,
            settings.temporal_namespace,
            settings.payment_failure_rate * 100,
            settings.inventory_failure_rate * 100,
            settings.shipping_failure_rate * 100,
        )
        log.info(
            "store: %s; payload keys: %s",
            display_url(store.engine.url),
            key_ids(settings.keys()) or "none (payloads in clear)",
        )
        await stop.wait()
        log.info("worker stopping")
    store.engine.dispose()


def run_worker_processes(count: int, settings: Settings) -> int:
    """Run ``count`` worker processes on one task queue; stop them all on SIGINT/SIGTERM.

    Each child is ``python -m orderflow worker`` with the same settings, its own metrics
    port (base + i) and, when seeded, its own fault seed (seed + i).
    """
    children: list[subprocess.Popen[bytes]] = []
    for index in range(count):
        env = settings.child_env(os.environ)
        env["ORDERFLOW_METRICS_PORT"] = str(
            settings.metrics_port + index if settings.metrics_port else 0
        )
        if settings.seed is not None:
            env["ORDERFLOW_SEED"] = str(settings.seed + index)
        children.append(subprocess.Popen([sys.executable, "-m", "orderflow", "worker"], env=env))
    log.info("started %d worker processes: %s", count, [c.pid for c in children])

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    codes = [child.wait() for child in children]
    return max(codes, default=0)
