"""The crash campaign: a batch of orders while worker processes and the server are killed.

On loopback, in a data directory of its own: a SQLite-persisted Temporal dev server,
``python -m orderflow worker`` processes, this process as the client. Workers are SIGKILLed
a random while after they poll and restarted; the server is SIGKILLed mid-run and restarted
on the same database file and port. Then every order must be final and the audit clean.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError

from orderflow.bootstrap import build_service, build_store, order_options
from orderflow.config import Settings
from orderflow.domain.models import Order
from orderflow.lab.batch import audited, new_batch_id, run_batch, seed_inventory
from orderflow.lab.samples import generate_orders
from orderflow.lab.summary import RunReport
from orderflow.store import Store
from orderflow.temporal.client import converter_for
from orderflow.temporal.devserver import DevServer
from orderflow.worker import READY_LINE
from orderflow.workflows.messages import OrderOptions, OrderResult
from orderflow.workflows.order import OrderWorkflow

#: Per-attempt timeout of steps and compensations: a killed worker's in-flight attempt is
#: retried after this long instead of the default 10 s (max attempts stay the defaults).
ATTEMPT_TIMEOUT_MS = 3_000
#: The worker logs this once it polls (``worker.run_worker``): from then on it may be killed.
READY_MARKER = READY_LINE.encode()
#: A worker whose ready line never shows is treated as polling after this long.
READY_GRACE_S = 120.0
#: A worker that exits on its own this many times in a row before polling is broken.
MAX_FAILED_STARTS = 5
#: How long the SIGKILLed server stays down, so clients and workers really see it gone.
SERVER_DOWNTIME_S = 2.0
RETRY_PAUSE_S = 0.5  # between a client's attempts while the server is unreachable
TICK_S, PROGRESS_EVERY_S = 0.2, 3.0  # the monkey's pace, and a progress line this often
#: Environment a loopback campaign must not pass on (Temporal Cloud / mTLS settings).
REMOTE_ENV = ("TEMPORAL_API_KEY", "TEMPORAL_TLS", "TEMPORAL_PROFILE", "TEMPORAL_CONFIG_FILE")

Handle = WorkflowHandle[OrderWorkflow, OrderResult]


class ChaosError(RuntimeError):
    """The campaign could not run (as opposed to a campaign that found violations)."""


@dataclass(frozen=True)
class ChaosPlan:
    """What a campaign does; every figure is bounded."""

    orders: int
    seed: int
    kill_every: float  # mean seconds a worker polls before its SIGKILL (uniform ±50%)
    server_restarts: int
    max_seconds: float
    workers: int = 2
    in_flight: int = 200  # orders submitted but not finished, at most


@dataclass(frozen=True)
class ChaosRun:
    """What a campaign came to: the batch's report (audit attached) and the violence done."""

    report: RunReport
    worker_kills: int
    worker_exits: int  # workers that died on their own and were restarted
    server_restarts: int
    mean_kill_interval_s: float
    data_dir: Path


def chaos_options(settings: Settings) -> OrderOptions:
    """The options in force with short attempt timeouts and no review (nobody would decide)."""
    options, short = order_options(settings), {"attempt_timeout_ms": ATTEMPT_TIMEOUT_MS}
    steps, undo = (o.model_copy(update=short) for o in (options.steps, options.compensations))
    return options.model_copy(
        update={"steps": steps, "compensations": undo, "review_threshold": None}
    )


async def connect_loopback(settings: Settings, deadline: float) -> Client:
    """A plain client of the campaign's own server, once its namespace answers.

    Its runtime logs errors only: every RPC retried while the server is down is expected.
    """
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    runtime = Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)))
    while True:
        try:
            client = await Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                data_converter=converter_for(settings),
                runtime=runtime,
            )
            await client.count_workflows()
            return client
        except (RuntimeError, RPCError) as err:  # the server is still starting
            if time.monotonic() > deadline:
                raise ChaosError(f"Temporal at {settings.temporal_address}: {err}") from err
            await asyncio.sleep(RETRY_PAUSE_S)


class WorkerPool:
    """``python -m orderflow worker`` processes: spawned, SIGKILLed, respawned, stopped.

    Each life of a worker lasts ``life()`` seconds from the moment it polls; then it is
    SIGKILLed and a new one started in its slot. With two or more slots a worker whose
    time is up waits until another one polls, so the queue is never left unserved for
    long; with one slot the queue is unserved while the new worker starts.
    """

    def __init__(self, settings: Settings, count: int, life: Callable[[], float]) -> None:
        self.settings, self.count, self.life = settings, count, life
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * count
        self.spawned_at = [0.0] * count
        self.log_offsets = [0] * count
        self.dies_at: list[float | None] = [None] * count  # None: not polling yet
        self.failed_starts = [0] * count
        self.spawns = 0
        self.kill_times: list[float] = []
        self.exits = 0

    def log_path(self, slot: int) -> Path:
        """Where worker ``slot`` (each of its lives) writes stdout and stderr."""
        return self.settings.data_dir / f"worker-{slot}.log"

    def env(self) -> dict[str, str]:
        """The worker's environment: the campaign's server, queue, store and faults."""
        s = self.settings
        env = s.child_env({k: v for k, v in os.environ.items() if not k.startswith(REMOTE_ENV)})
        env.update(
            {
                "DATABASE_URL": s.db_url,
                "ORDERFLOW_DATABASE_URL": s.db_url,
                "ORDERFLOW_METRICS_PORT": "0",
                # A fault sequence per life: a new worker does not replay the same faults.
                "ORDERFLOW_SEED": str((s.seed or 0) * 1000 + self.spawns),
            }
        )
        return env

    def spawn(self, slot: int) -> None:
        """Start a worker in ``slot``; its output is appended to the slot's log file."""
        with self.log_path(slot).open("ab") as log:
            log.write(f"---- chaos: worker life #{self.spawns} ----\n".encode())
            log.flush()
            self.log_offsets[slot] = log.tell()
            self.procs[slot] = subprocess.Popen(
                [sys.executable, "-m", "orderflow", "worker"],
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        self.spawns += 1
        self.spawned_at[slot] = time.monotonic()
        self.dies_at[slot] = None

    def polls(self, slot: int) -> bool:
        """True once this life logged that it polls (or after a grace period); sets its end."""
        if self.dies_at[slot] is None:
            with self.log_path(slot).open("rb") as log:
                log.seek(self.log_offsets[slot])
                seen = READY_MARKER in log.read()
            if seen or time.monotonic() - self.spawned_at[slot] > READY_GRACE_S:
                self.dies_at[slot] = time.monotonic() + self.life()
                self.failed_starts[slot] = 0
        return self.dies_at[slot] is not None

    def kill_due(self, now: float) -> list[int]:
        """SIGKILL and restart every worker whose life is over (keeping one poller if we can)."""
        killed = []
        for slot in range(self.count):
            due = self.polls(slot) and now >= (self.dies_at[slot] or now)
            others = sum(self.polls(other) for other in range(self.count) if other != slot)
            if due and (self.count == 1 or others > 0):
                self.kill_and_restart(slot)
                killed.append(slot)
        return killed

    def kill_and_restart(self, slot: int) -> None:
        """SIGKILL the worker in ``slot`` (no chance to clean up), then start a new one."""
        proc = self.procs[slot]
        if proc is not None:
            proc.kill()
            proc.wait()
        self.kill_times.append(time.monotonic())
        self.spawn(slot)

    def respawn_exited(self) -> None:
        """Restart workers that died on their own; give up on one that never polls."""
        for slot, proc in enumerate(self.procs):
            if proc is None or proc.poll() is None:
                continue
            if not self.polls(slot):
                self.failed_starts[slot] += 1
                if self.failed_starts[slot] >= MAX_FAILED_STARTS:
                    raise ChaosError(
                        f"worker {slot} exited {MAX_FAILED_STARTS} times before polling "
                        f"(last code {proc.returncode}); see {self.log_path(slot)}"
                    )
            self.exits += 1
            self.spawn(slot)

    def stop(self) -> None:
        """Stop every worker: SIGTERM (graceful), then SIGKILL whatever is left."""
        live = [p for p in self.procs if p is not None and p.poll() is None]
        for proc in live:
            proc.terminate()
        deadline = time.monotonic() + 15
        for proc in live:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Campaign:
    """One crash campaign: ``await Campaign(plan, settings, echo).run()``."""

    def __init__(
        self,
        plan: ChaosPlan,
        settings: Settings,
        echo: Callable[[str], None],
        on_progress: Callable[[RunReport, str], None] | None = None,
    ) -> None:
        self.plan, self.settings, self.echo = plan, settings, echo
        #: Gets the report and a note of the violence so far, every monkey tick.
        self.on_progress = on_progress
        self.rng = random.Random(plan.seed)
        self.dev = DevServer(settings)
        self.pool = WorkerPool(
            settings, plan.workers, lambda: plan.kill_every * self.rng.uniform(0.5, 1.5)
        )
        self.batch = new_batch_id("chaos")
        self.report = RunReport(mode="chaos", batch=self.batch, orders=plan.orders)
        self.results: list[OrderResult] = []
        self.server_restarts = 0
        self.deadline = 0.0

    async def run(self) -> ChaosRun:
        """Run the campaign, stop what it started, audit; never leaves a process behind."""
        started = time.monotonic()
        self.deadline = started + self.plan.max_seconds
        store = build_store(self.settings)  # migrated here, before workers race to do it
        try:
            try:
                await self._campaign(store)
            finally:
                self.shutdown()  # before the audit: no stray attempt may still be writing
            return self._audited(store, time.monotonic() - started)
        finally:
            store.engine.dispose()

    def shutdown(self) -> None:
        """Stop the workers and the server this campaign started (idempotent)."""
        try:
            self.pool.stop()
        finally:
            self.dev.stop()

    async def _campaign(self, store: Store) -> None:
        orders = generate_orders(self.plan.orders, self.plan.seed, self.batch)
        seed_inventory(store, orders)
        self.dev.start()  # blocking on purpose: nothing can happen without the server
        client = await connect_loopback(self.settings, self.deadline)
        for slot in range(self.plan.workers):
            self.pool.spawn(slot)
        monkey = asyncio.create_task(self._monkey())
        orders_done = asyncio.create_task(self._run_orders(client, store, orders))
        try:
            # Whichever ends first: all orders, or the monkey with an error.
            await asyncio.wait({monkey, orders_done}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (monkey, orders_done):
                task.cancel()
            await asyncio.gather(monkey, orders_done, return_exceptions=True)
        for task in (monkey, orders_done):
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error

    async def _run_orders(self, client: Client, store: Store, orders: Sequence[Order]) -> None:
        """Every order through the order service, at most ``in_flight`` open at a time,
        riding out the kills and restarts (the demo's batch runner, ``keep_trying``)."""
        service = build_service(client, store, self.settings, chaos_options(self.settings))
        self.results = await run_batch(
            service,
            orders,
            report=self.report,
            in_flight=self.plan.in_flight,
            timeout=max(0.0, self.deadline - time.monotonic()),
            keep_trying=True,
        )

    async def _monkey(self) -> None:
        """Kill workers when their time is up, restart the server mid-run, show progress."""
        last_progress = time.monotonic()
        while True:
            await asyncio.sleep(TICK_S)
            self.pool.respawn_exited()
            if self._server_restart_due():
                await self._restart_server()
            now = time.monotonic()
            for slot in self.pool.kill_due(now):
                self.echo(f"  SIGKILL worker {slot} (kill #{len(self.pool.kill_times)}); restarted")
            violence = (
                f"worker kills {len(self.pool.kill_times)} | server restarts {self.server_restarts}"
            )
            if self.on_progress is not None:
                self.on_progress(self.report, violence)
            elif now - last_progress >= PROGRESS_EVERY_S:
                last_progress = now
                self.echo(f"{self.report.progress_line(self.report.finished)} | {violence}")

    def _server_restart_due(self) -> bool:
        """Restart k of n comes once k/(n+1) of the orders are done: always mid-run."""
        n = self.plan.server_restarts
        k = self.server_restarts + 1
        return k <= n and self.report.finished >= self.plan.orders * k // (n + 1)

    async def _restart_server(self) -> None:
        """SIGKILL the dev server, leave it down a moment, start it on the same file and port."""
        if self.dev.process is not None:
            self.dev.process.kill()
            self.dev.process.wait()
        still_open = self.plan.orders - self.report.finished
        self.echo(f"  SIGKILL Temporal server with {still_open} order(s) open")
        await asyncio.sleep(SERVER_DOWNTIME_S)  # meanwhile clients and workers fail and retry
        began = time.monotonic()
        self.dev.start()  # blocking: the campaign cannot go on without it anyway
        self.server_restarts += 1
        self.echo(f"  Temporal server restarted on its database in {time.monotonic() - began:.1f}s")

    def _audited(self, store: Store, seconds: float) -> ChaosRun:
        """Audit the batch, cross-check each outcome with the database, sum it all up."""
        audited(self.report, store, self.results)
        self.report.seconds = seconds
        kills = self.pool.kill_times
        return ChaosRun(
            report=self.report,
            worker_kills=len(kills),
            worker_exits=self.pool.exits,
            server_restarts=self.server_restarts,
            mean_kill_interval_s=(kills[-1] - kills[0]) / (len(kills) - 1) if kills[1:] else 0.0,
            data_dir=self.settings.data_dir,
        )
