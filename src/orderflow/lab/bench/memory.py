"""Does a worker's memory stay flat? One real worker process, many orders, RSS sampled.

The worker is ``python -m orderflow worker`` with its default configuration (the default
faults included), as an operator runs it; the bench process only starts orders and waits
for their results. The worker's resident set size is read from ``/proc`` after every tenth
of the orders. The baseline is the first sample (after the first tenth: imports, caches and
pools are warm by then); the growth is the last sample against it.
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from orderflow.bootstrap import build_service
from orderflow.domain.models import Order
from orderflow.domain.status import OrderStatus
from orderflow.lab.bench.measure import Tally, drive_async
from orderflow.lab.bench.variants import BenchContext, orderflow_settings
from orderflow.lab.bench.workers import worker_processes
from orderflow.lab.bench.workload import bench_orders, fresh_store

#: Samples taken across the run (one after each tenth of the orders).
SAMPLES = 10


@dataclass
class MemoryFigures:
    """RSS of the worker process across the run."""

    orders: int
    completed: int = 0
    seconds: float = 0.0
    #: (orders finished, RSS in MiB) after each tenth of the run.
    samples: list[tuple[int, float]] = field(default_factory=list)
    partial: bool = False

    @property
    def baseline_mb(self) -> float:
        return self.samples[0][1] if self.samples else float("nan")

    @property
    def final_mb(self) -> float:
        return self.samples[-1][1] if self.samples else float("nan")

    @property
    def peak_mb(self) -> float:
        return max((mb for _, mb in self.samples), default=float("nan"))

    @property
    def growth_pct(self) -> float:
        """Last sample against the first, in percent (the target: within ±10)."""
        if len(self.samples) < 2:
            return float("nan")
        return (self.final_mb / self.baseline_mb - 1.0) * 100.0


def rss_mb(pid: int) -> float | None:
    """Resident set size of process ``pid`` in MiB (Linux ``/proc``); None once it died."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return None  # a zombie: exited, not yet reaped


async def measure_memory(
    ctx: BenchContext, tag: str, count: int, *, concurrency: int, deadline: float
) -> MemoryFigures:
    """Run ``count`` orders through a worker process; sample its RSS every tenth."""
    # The bench's settings (not the developer's ORDERFLOW_*) with the default faults.
    settings = orderflow_settings(ctx, tag, faults=True, seed=7)
    settings = settings.model_copy(update={"metrics_port": 0})
    orders = bench_orders(count, 11, f"{tag}-")
    store = fresh_store(settings, settings.data_dir, orders)
    service = build_service(ctx.client, store, settings)
    figures = MemoryFigures(orders=count)
    step = max(1, count // SAMPLES)
    env = settings.child_env(os.environ)
    finished = itertools.count(1)
    async with worker_processes(1, env, settings.data_dir) as (worker,):

        async def one(order: Order) -> bool:
            await service.start(order)
            completed = (await service.result(order.order_id)).status is OrderStatus.COMPLETED
            figures.completed += completed
            done = next(finished)
            if done % step == 0:
                rss = rss_mb(worker.pid)
                if rss is not None:
                    figures.samples.append((done, rss))
            return completed

        started = time.monotonic()
        try:
            all_done = await drive_async(one, orders, Tally(), concurrency, deadline)
        finally:
            store.engine.dispose()
        figures.seconds = time.monotonic() - started
        figures.partial = not all_done
    return figures
