"""Driving a workload at a fixed concurrency and turning what happened into figures.

CPU is read from the kernel, not sampled: ``/proc/<pid>/stat`` (utime + stime of every
thread of the server process) for the Temporal server, and ``os.times()`` for this
process. This process runs the worker (the SDK's Rust core, the workflow code, the
activities and their SQLite store) *and* the client that starts and awaits the orders,
so "worker CPU" includes the client's share; for the in-process peers (legacy, DBOS)
it is everything, and their server CPU is 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

AsyncRunner = Callable[[T], Awaitable[bool]]
#: What follows an item, untimed, before its lane takes the next (see ``measure_async``).
Settle = Callable[[T], Awaitable[object]]
ThreadRunner = Callable[[T], bool]

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        text = stat.read()
    # The command name may contain spaces and parentheses: split after the last ')'.
    fields = text.rpartition(")")[2].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _TICKS_PER_SECOND


def own_cpu_seconds() -> float:
    """User + system CPU seconds of this process, all threads."""
    times = os.times()
    return times.user + times.system


class CpuClock:
    """Reads server and own CPU together, so a variant's share is a difference of two reads."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        #: Worker processes of the variant being measured: their CPU counts as the worker's.
        self.worker_pids: list[int] = []

    def since(self, before: tuple[float, float]) -> tuple[float, float]:
        """(server, own + workers) CPU seconds spent since the reading ``before``."""
        now = self.read()
        return now[0] - before[0], now[1] - before[1]

    def read(self) -> tuple[float, float]:
        """(server CPU seconds, own + worker processes' CPU seconds) so far."""
        server = process_cpu_seconds(self.server_pid) if self.server_pid else 0.0
        workers = sum(process_cpu_seconds(pid) for pid in self.worker_pids)
        return server, own_cpu_seconds() + workers


def percentile(sorted_values: Sequence[float], share: float) -> float:
    """Linear-interpolated percentile of already sorted values (``share`` in 0..1)."""
    if not sorted_values:
        return math.nan
    position = share * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    return sorted_values[low] * (1 - fraction) + sorted_values[high] * fraction


@dataclass
class Figures:
    """One variant at one concurrency: what the report and the JSON show."""

    variant: str
    concurrency: int
    orders: int
    completed: int = 0
    failed: int = 0
    seconds: float = 0.0
    wps: float = 0.0
    p50_ms: float = math.nan
    p95_ms: float = math.nan
    p99_ms: float = math.nan
    server_cpu_ms: float = 0.0
    worker_cpu_ms: float = 0.0
    #: Orders per CPU-second of server + worker: what the machine could do flat out. Less
    #: sensitive than ``wps`` to other load on a shared machine.
    orders_per_cpu_s: float = math.nan
    #: True when the time budget ran out before every order finished.
    partial: bool = False
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN becomes None)."""
        return {
            key: (None if isinstance(value, float) and math.isnan(value) else value)
            for key, value in asdict(self).items()
        }


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float, ok: bool) -> None:
        with self.lock:
            self.latencies.append(seconds)
            if not ok:
                self.failed += 1


def _figures(
    variant: str,
    concurrency: int,
    orders: int,
    tally: Tally,
    seconds: float,
    cpu: tuple[float, float],
    partial: bool,
) -> Figures:
    done = sorted(tally.latencies)
    count = len(done)
    per_order = 1000.0 / count if count else math.nan
    return Figures(
        variant=variant,
        concurrency=concurrency,
        orders=orders,
        completed=count - tally.failed,
        failed=tally.failed,
        seconds=seconds,
        wps=count / seconds if seconds > 0 else math.nan,
        p50_ms=percentile(done, 0.50) * 1000,
        p95_ms=percentile(done, 0.95) * 1000,
        p99_ms=percentile(done, 0.99) * 1000,
        server_cpu_ms=cpu[0] * per_order,
        worker_cpu_ms=cpu[1] * per_order,
        orders_per_cpu_s=count / (cpu[0] + cpu[1]) if count and cpu[0] + cpu[1] > 0 else math.nan,
        partial=partial,
    )


async def measure_async(
    variant: str,
    run_one: AsyncRunner[T],
    warmup: Sequence[T],
    items: Sequence[T],
    *,
    concurrency: int,
    deadline: float,
    clock: CpuClock,
    settle: Settle[T] | None = None,
) -> Figures:
    """Warm up, then run ``items`` with at most ``concurrency`` in flight until ``deadline``.

    Each item's latency runs from just before ``run_one`` to its return (start to result).
    ``settle``: awaited after each item, outside its latency, before the lane goes on (the
    checkout's answer is timed; its order then runs to its end, so the lanes never pile up
    orders faster than they are processed).
    """
    await drive_async(run_one, warmup, Tally(), concurrency, deadline, settle)
    tally = Tally()
    cpu_before = clock.read()
    started = time.perf_counter()
    finished = await drive_async(run_one, items, tally, concurrency, deadline, settle)
    seconds = time.perf_counter() - started
    cpu = clock.since(cpu_before)
    return _figures(variant, concurrency, len(items), tally, seconds, cpu, not finished)


async def drive_async(
    run_one: AsyncRunner[T],
    items: Sequence[T],
    tally: Tally,
    concurrency: int,
    deadline: float,
    settle: Settle[T] | None = None,
) -> bool:
    """Run items with ``concurrency`` lanes; False if the deadline cut it short."""
    queue = list(reversed(items))

    async def lane() -> None:
        while queue and time.monotonic() < deadline:
            item = queue.pop()
            started = time.perf_counter()
            try:
                ok = await run_one(item)
            except Exception:  # a crashed order counts as a failure, the run goes on
                ok = False
            tally.add(time.perf_counter() - started, ok)
            if settle is not None:
                with contextlib.suppress(Exception):
                    await settle(item)

    lanes = [asyncio.ensure_future(lane()) for _ in range(max(1, concurrency))]
    _, pending = await asyncio.wait(lanes, timeout=max(0.0, deadline - time.monotonic()))
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return not pending and not queue


async def measure_threads(
    variant: str,
    run_one: ThreadRunner[T],
    warmup: Sequence[T],
    items: Sequence[T],
    *,
    concurrency: int,
    deadline: float,
    clock: CpuClock,
) -> Figures:
    """Like ``measure_async`` for blocking runners: ``concurrency`` threads."""

    def run() -> Figures:
        _drive_threads(run_one, warmup, Tally(), concurrency, deadline)
        tally = Tally()
        cpu_before = clock.read()
        started = time.perf_counter()
        finished = _drive_threads(run_one, items, tally, concurrency, deadline)
        seconds = time.perf_counter() - started
        cpu = clock.since(cpu_before)
        return _figures(variant, concurrency, len(items), tally, seconds, cpu, not finished)

    # A private thread, not the loop's default executor: a library under test (DBOS) may
    # have replaced that one with its own pool and shut it down.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-driver") as executor:
        return await asyncio.get_running_loop().run_in_executor(executor, run)


def _drive_threads(
    run_one: ThreadRunner[T],
    items: Sequence[T],
    tally: Tally,
    concurrency: int,
    deadline: float,
) -> bool:
    queue = list(reversed(items))
    lock = threading.Lock()

    def lane() -> None:
        while time.monotonic() < deadline:
            with lock:
                if not queue:
                    return
                item = queue.pop()
            started = time.perf_counter()
            try:
                ok = run_one(item)
            except Exception:  # a crashed order counts as a failure, the run goes on
                ok = False
            tally.add(time.perf_counter() - started, ok)

    threads = [
        threading.Thread(target=lane, name=f"bench-lane-{i}", daemon=True)
        for i in range(max(1, concurrency))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        # A blocked order cannot be interrupted from here; daemon threads die with us.
        thread.join(timeout=max(0.0, deadline - time.monotonic()) + 1.0)
    return not queue and not any(thread.is_alive() for thread in threads)
