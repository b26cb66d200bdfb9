"""Running the whole bench on one server: the probe, every variant, rounds and a sweep.

Bounded: at most ``orders`` orders per measurement, and ``max_seconds`` in all (each
measurement gets a share of what is left; one cut short is marked partial). Everything
started here (servers, workers, DBOS) is stopped before ``run_bench`` returns.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType

from orderflow.app.orders import workflow_id
from orderflow.config import Settings
from orderflow.domain.models import Order
from orderflow.lab.bench.measure import CpuClock, Figures, measure_async
from orderflow.lab.bench.memory import MemoryFigures, measure_memory
from orderflow.lab.bench.peers import (
    dbos_available,
    measure_dbos,
    measure_legacy,
    measure_restate,
)
from orderflow.lab.bench.restate_peer import restate_missing
from orderflow.lab.bench.servers import bench_settings, server_pid, start_server
from orderflow.lab.bench.variants import (
    FAST,
    FAST_PROCESSES,
    BenchContext,
    OrderRunner,
    bare_local_variant,
    bare_mix_variant,
    bare_variant,
    checkout_api_variant,
    floor_variant,
    naive_variant,
    orderflow_gzip_variant,
    orderflow_processes_variant,
    orderflow_variant,
)
from orderflow.lab.bench.workload import bench_orders
from orderflow.temporal.client import connect
from orderflow.workflows.messages import ActivityMode

#: Every variant, in the order they run (orderflow_memory right after orderflow, so the
#: embedded-vs-in-memory ratio compares neighbours in time).
VARIANTS: tuple[str, ...] = (
    "floor",
    "bare",
    "bare_mixed",
    "bare_local",
    "naive",
    "orderflow",
    "orderflow_regular",
    "orderflow_local",
    "orderflow_gzip",
    "orderflow_tuned",
    "checkout",
    "checkout_c10",
    "checkout_api",
    "orderflow_memory",
    "orderflow_faults",
    "orderflow_fast",
    "orderflow_fast_1p",
    "legacy",
    "dbos",
    "dbos_async",
    "restate",
)
#: Run unless --variants says otherwise: all of them (``bare_local`` gives the ceiling).
DEFAULT_VARIANTS: tuple[str, ...] = VARIANTS
#: Variants that run on the SQLite-persisted server.
ON_SQLITE = frozenset(
    {
        "floor",
        "bare",
        "bare_mixed",
        "bare_local",
        "naive",
        "orderflow",
        "orderflow_regular",
        "orderflow_local",
        "orderflow_gzip",
        "orderflow_tuned",
        "checkout",
        "checkout_c10",
        "checkout_api",
        "orderflow_faults",
        "orderflow_fast",
        "orderflow_fast_1p",
    }
)
LABELS = {
    "floor": "engine floor (empty workflow)",
    "bare": "bare shape (no-op activities)",
    "bare_mixed": "bare shape of the default (mixed) mix",
    "bare_local": "bare shape, local activities (the ceiling)",
    "orderflow_regular": "orderflow, faults off, every step regular",
    "orderflow_local": "orderflow, faults off, every step local",
    "orderflow_gzip": "orderflow, faults off, gRPC messages gzipped (the SDK's default)",
    "orderflow_tuned": "orderflow, faults off, the fastest config's pollers, slots and eager start",
    "checkout": "checkout answer (submit to priced order), concurrency 1",
    "checkout_c10": "checkout answer (submit to priced order), concurrency 10",
    "checkout_api": "checkout answer (POST /orders over HTTP), concurrency 1",
    "naive": "naive Temporal version",
    "orderflow": "orderflow, faults off",
    "orderflow_memory": "orderflow, faults off, in-memory server",
    "orderflow_faults": "orderflow, default faults",
    "orderflow_fast": f"orderflow, fastest config ({FAST_PROCESSES} worker processes)",
    "orderflow_fast_1p": "orderflow, fastest config's settings, 1 in-process worker",
    "legacy": "legacy in-process (no durability)",
    "dbos": "DBOS Transact, sync API",
    "dbos_async": "DBOS Transact, async API",
    "restate": "Restate (server + Python SDK service)",
}

#: The checkout variants run at their own concurrency, whatever the plan's.
CHECKOUT_CONCURRENCY = {"checkout": 1, "checkout_c10": 10, "checkout_api": 1}

Progress = Callable[[str], None]
#: The marker the SDK records for each completed local activity.
LOCAL_ACTIVITY_MARKER = "core_local_activity"


@dataclass
class BenchPlan:
    """What to measure and within which bounds."""

    orders: int
    concurrency: int
    variants: tuple[str, ...] = DEFAULT_VARIANTS
    sweep: tuple[int, ...] = ()
    rounds: int = 1
    #: Orders per sweep point (default: ``orders``); the main concurrency uses ``orders``.
    sweep_orders: int | None = None
    max_seconds: float = 900.0
    #: Orders for the worker-memory run (0: skip it); see ``orderflow.lab.bench.memory``.
    memory_orders: int = 0
    seed: int = 7
    settings: Settings = field(default_factory=Settings)
    work_dir: Path = Path("orderflow-data/bench-work")

    def warmup(self, orders: int) -> int:
        """Warm-up orders before a measurement of ``orders`` (not counted)."""
        return min(5, max(1, orders // 4))


@dataclass
class BenchRun:
    """Everything measured."""

    plan: BenchPlan
    results: dict[str, Figures] = field(default_factory=dict)
    rounds: dict[str, list[Figures]] = field(default_factory=dict)
    sweep: dict[int, dict[str, Figures]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    memory: MemoryFigures | None = None
    probe: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)


class _Budget:
    """Shares what is left of ``max_seconds`` among the measurements still to run."""

    def __init__(self, seconds: float, measurements: int) -> None:
        self.end = time.monotonic() + seconds
        self.left = measurements

    def next_deadline(self) -> float | None:
        """The deadline of the next measurement, or None when time is up."""
        self.left = max(1, self.left)
        remaining = self.end - time.monotonic()
        share = remaining / self.left
        self.left -= 1
        if remaining < 2.0:
            return None
        # A measurement may borrow from later ones; ones that finish early give time back.
        return time.monotonic() + min(remaining, 2 * share)


def _median(values: Sequence[float]) -> float:
    kept = [v for v in values if v == v]  # NaN != NaN
    return statistics.median(kept) if kept else float("nan")


def combine(rounds: Sequence[Figures]) -> Figures:
    """One figure set from several rounds: medians of rates, latencies and CPU; sums of counts."""
    first = rounds[0]
    if len(rounds) == 1:
        return first
    return Figures(
        variant=first.variant,
        concurrency=first.concurrency,
        orders=sum(r.orders for r in rounds),
        completed=sum(r.completed for r in rounds),
        failed=sum(r.failed for r in rounds),
        seconds=sum(r.seconds for r in rounds),
        wps=_median([r.wps for r in rounds]),
        p50_ms=_median([r.p50_ms for r in rounds]),
        p95_ms=_median([r.p95_ms for r in rounds]),
        p99_ms=_median([r.p99_ms for r in rounds]),
        server_cpu_ms=_median([r.server_cpu_ms for r in rounds]),
        worker_cpu_ms=_median([r.worker_cpu_ms for r in rounds]),
        orders_per_cpu_s=_median([r.orders_per_cpu_s for r in rounds]),
        partial=any(r.partial for r in rounds),
        note=f"median of {len(rounds)} rounds",
    )


async def run_bench(
    plan: BenchPlan, progress: Progress, on_step: Callable[[int, int, str], None] | None = None
) -> BenchRun:
    """Measure ``plan.variants`` at ``plan.concurrency`` (and the sweep); stop all after.

    ``progress`` gets a line per event; ``on_step`` (done, total, what) each measurement.
    """
    run = BenchRun(plan=plan, load_before=os.getloadavg())
    started = time.monotonic()
    selected = [v for v in VARIANTS if v in plan.variants]
    missing_dbos = dbos_available()
    for name in ("dbos", "dbos_async"):
        if name in selected and missing_dbos:
            run.skipped[name] = missing_dbos
            progress(f"skipping {name}: {missing_dbos}")
    missing_restate = restate_missing()
    if "restate" in selected and missing_restate:
        run.skipped["restate"] = missing_restate
        progress(f"skipping restate: {missing_restate}")
    selected = [v for v in selected if v not in run.skipped]
    points = [c for c in plan.sweep if c != plan.concurrency]
    swept = [v for v in selected if v not in CHECKOUT_CONCURRENCY]
    steps = len(selected) * plan.rounds + len(swept) * len(points)
    steps += 1 if plan.memory_orders else 0
    budget = _Budget(plan.max_seconds, steps)
    measured = 0
    run_id = uuid.uuid4().hex[:6]
    async with AsyncExitStack() as stack:
        sqlite_ctx = memory_ctx = None
        if plan.memory_orders or any(v in ON_SQLITE for v in selected):
            sqlite_ctx = await _server(stack, plan, "server-sqlite", in_memory=False)
            progress(f"Temporal dev server (SQLite) on {sqlite_ctx.settings.temporal_address}")
            run.probe = await probe(sqlite_ctx, run_id)
            sqlite_ctx.bare_steps = int(run.probe["activities"])
            progress(
                f"probe: one order runs {run.probe['activities']} activities, "
                f"{run.probe['local_activities']} of them local "
                f"({', '.join(run.probe['activity_types'])}); the bare shape runs as many "
                "regular ones"
            )
        if "orderflow_memory" in selected:
            memory_ctx = await _server(stack, plan, "server-memory", in_memory=True)
            progress(f"Temporal dev server (in memory) on {memory_ctx.settings.temporal_address}")

        async def measure(variant: str, concurrency: int, tag: str, count: int) -> Figures | None:
            nonlocal measured
            if on_step is not None:
                on_step(measured, steps, f"{variant} at concurrency {concurrency}")
            measured += 1
            deadline = budget.next_deadline()
            if deadline is None:
                run.skipped.setdefault(variant, "out of time (--max-seconds)")
                return None
            ctx = memory_ctx if variant == "orderflow_memory" else sqlite_ctx
            concurrency = CHECKOUT_CONCURRENCY.get(variant, concurrency)
            began = time.monotonic()
            figures = await _measure_one(plan, ctx, variant, concurrency, tag, count, deadline)
            progress(
                f"  {variant:<17} c={concurrency:<3} {figures.wps:7.1f} orders/s  "
                f"p50 {figures.p50_ms:7.1f} ms  p99 {figures.p99_ms:7.1f} ms  "
                f"({time.monotonic() - began:.1f} s with set-up)"
                + ("  (cut short by --max-seconds)" if figures.partial else "")
            )
            return figures

        for round_no in range(plan.rounds):
            progress(f"round {round_no + 1}/{plan.rounds} at concurrency {plan.concurrency}")
            for variant in selected:
                tag = f"b{run_id}-{variant}-c{plan.concurrency}-r{round_no}"
                figures = await measure(variant, plan.concurrency, tag, plan.orders)
                if figures is not None:
                    run.rounds.setdefault(variant, []).append(figures)
        run.results = {v: combine(r) for v, r in run.rounds.items()}
        for point in plan.sweep:
            if point == plan.concurrency:
                run.sweep[point] = dict(run.results)
                continue
            progress(f"sweep: concurrency {point}")
            run.sweep[point] = {}
            for variant in [v for v in selected if v not in CHECKOUT_CONCURRENCY]:
                tag = f"b{run_id}-{variant}-c{point}-s"
                figures = await measure(variant, point, tag, plan.sweep_orders or plan.orders)
                if figures is not None:
                    run.sweep[point][variant] = figures
        if plan.memory_orders and sqlite_ctx is not None:
            deadline = budget.next_deadline()
            if deadline is None:
                run.skipped["memory"] = "out of time (--max-seconds)"
            else:
                progress(f"memory: {plan.memory_orders} orders through one worker process")
                run.memory = await measure_memory(
                    sqlite_ctx,
                    f"b{run_id}-memory",
                    plan.memory_orders,
                    concurrency=plan.concurrency,
                    deadline=deadline,
                )
                progress(
                    f"  worker RSS {run.memory.baseline_mb:.1f} MiB after the first tenth, "
                    f"{run.memory.final_mb:.1f} MiB at the end "
                    f"({run.memory.growth_pct:+.1f}%), peak {run.memory.peak_mb:.1f} MiB"
                )
    run.seconds = time.monotonic() - started
    run.load_after = os.getloadavg()
    return run


async def _server(
    stack: AsyncExitStack, plan: BenchPlan, name: str, *, in_memory: bool
) -> BenchContext:
    settings = bench_settings(plan.settings, plan.work_dir / name)
    server = await start_server(settings, in_memory=in_memory)
    stack.callback(server.stop)
    client = await connect(settings)
    return BenchContext(
        client=client,
        clock=CpuClock(server_pid(server)),
        settings=settings,
        work_dir=plan.work_dir,
    )


def _variant(
    ctx: BenchContext, variant: str, tag: str, orders: Sequence[Order], seed: int
) -> AbstractAsyncContextManager[OrderRunner]:
    if variant == "floor":
        return floor_variant(ctx, tag, orders)
    if variant == "bare":
        return bare_variant(ctx, tag, orders)
    if variant == "bare_local":
        return bare_local_variant(ctx, tag, orders)
    if variant == "bare_mixed":
        return bare_mix_variant(ctx, tag, orders, ActivityMode.MIXED)
    if variant == "orderflow_regular":
        return orderflow_variant(ctx, tag, orders, seed=seed, mode=ActivityMode.REGULAR)
    if variant == "orderflow_local":
        return orderflow_variant(ctx, tag, orders, seed=seed, mode=ActivityMode.LOCAL)
    if variant == "orderflow_gzip":
        return orderflow_gzip_variant(ctx, tag, orders, seed=seed)
    if variant == "orderflow_tuned":
        return orderflow_variant(ctx, tag, orders, seed=seed, tuning=FAST)
    if variant == "checkout_api":
        return checkout_api_variant(ctx, tag, orders, seed=seed)
    if variant in CHECKOUT_CONCURRENCY:
        return orderflow_variant(ctx, tag, orders, seed=seed, checkout=True)
    if variant == "naive":
        return naive_variant(ctx, tag, orders)
    if variant == "orderflow_faults":
        return orderflow_variant(ctx, tag, orders, faults=True, seed=seed)
    if variant == "orderflow_fast":
        return orderflow_processes_variant(ctx, tag, orders, seed=seed)
    if variant == "orderflow_fast_1p":
        return orderflow_variant(ctx, tag, orders, fast=FAST, seed=seed)
    return orderflow_variant(ctx, tag, orders, seed=seed)  # orderflow, orderflow_memory


async def _measure_one(
    plan: BenchPlan,
    ctx: BenchContext | None,
    variant: str,
    concurrency: int,
    tag: str,
    count: int,
    deadline: float,
) -> Figures:
    warm = plan.warmup(count)
    orders = bench_orders(warm + count, plan.seed, f"{tag}-")
    warmup, items = orders[:warm], orders[warm:]
    data_dir = plan.work_dir / tag
    if variant == "legacy":
        return await measure_legacy(
            plan.settings, data_dir, warmup, items, concurrency=concurrency, deadline=deadline
        )
    if variant in ("dbos", "dbos_async"):
        return await measure_dbos(
            plan.settings,
            data_dir,
            warmup,
            items,
            concurrency=concurrency,
            deadline=deadline,
            use_async=variant == "dbos_async",
        )
    if variant == "restate":
        return await measure_restate(
            plan.settings, data_dir, warmup, items, concurrency=concurrency, deadline=deadline
        )
    assert ctx is not None, f"no server for {variant}"
    async with _variant(ctx, variant, tag, orders, plan.seed) as one:
        return await measure_async(
            variant,
            one,
            warmup,
            items,
            concurrency=concurrency,
            deadline=deadline,
            clock=ctx.clock,
            settle=getattr(one, "settle", None),
        )


async def probe(ctx: BenchContext, run_id: str) -> dict[str, Any]:
    """Run one fault-free order and read its history: what the order workflow does.

    The activity count (regular and local) is what ``BareWorkflow`` mirrors, measured
    rather than assumed (7 today for a single-warehouse order: validate, payment,
    allocation, reserve, quote, book, record outcome), as regular activities.
    """
    tag = f"b{run_id}-probe"
    orders = bench_orders(1, 1, f"{tag}-")
    async with orderflow_variant(ctx, tag, orders) as one:
        await one(orders[0])
    history = await ctx.client.get_workflow_handle(workflow_id(orders[0].order_id)).fetch_history()
    types: list[str] = []
    local = 0
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            types.append(event.activity_task_scheduled_event_attributes.activity_type.name)
        elif (
            event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
        ):
            # A local activity's marker: its type is in the marker's "data" detail (JSON).
            data = event.marker_recorded_event_attributes.details["data"].payloads[0].data
            types.append(json.loads(data).get("activity_type", "?"))
            local += 1

    def count(kind: int) -> int:
        return sum(1 for event in history.events if event.event_type == kind)

    return {
        "activities": len(types),
        "local_activities": local,
        "activity_types": types,
        "history_events": len(history.events),
        "workflow_tasks": count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
        "search_attribute_upserts": count(EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES),
    }
