"""The Temporal variants: floor, bare shape, naive version, orderflow (three configurations).

Each variant is an async context manager that starts its own worker on its own task queue
(and its own fresh store), yields a coroutine that runs one order start to result, and
stops the worker when the block ends.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from orderflow.adapters.simulated import InventorySystem, PaymentGateway, ShippingCarrier
from orderflow.app.orders import OrderService
from orderflow.bootstrap import build_activities, build_service
from orderflow.config import Settings
from orderflow.domain.models import Order
from orderflow.domain.status import OrderStatus
from orderflow.lab.bench.bare import (
    BareLocalWorkflow,
    BareMixedWorkflow,
    BareWorkflow,
    FloorWorkflow,
    noop_activity,
)
from orderflow.lab.bench.measure import CpuClock
from orderflow.lab.bench.naive import NaiveOrderWorkflow
from orderflow.lab.bench.naive_activities import NaiveActivities
from orderflow.lab.bench.workers import worker_processes
from orderflow.lab.bench.workload import fresh_store
from orderflow.temporal.sandbox import workflow_runner
from orderflow.worker import running_worker
from orderflow.workflows.messages import LOCAL_STEPS, ActivityMode, Step

OrderRunner = Callable[[Order], Awaitable[bool]]


@dataclass
class BenchContext:
    """What every Temporal variant needs: a client of the bench's server and where to write."""

    client: Client
    clock: CpuClock
    settings: Settings
    work_dir: Path
    #: Activities of the bare shape (the order workflow's count, measured by ``probe``).
    bare_steps: int = 7


@dataclass(frozen=True)
class FastKnobs:
    """orderflow's fastest configuration: settings a user can set, plus worker tuning.

    Settings (environment variables of the worker and the client that starts orders):

    - ``activity_mode="local"`` (``ORDERFLOW_ACTIVITY_MODE``): every forward step a local
      activity (compensations stay regular), so a fault-free order takes one or two
      workflow tasks and no activity task;
    - ``status_search_attribute=False`` (``ORDERFLOW_STATUS_SEARCH_ATTRIBUTE``): no
      ``UpsertWorkflowSearchAttributes`` per status change (visibility writes on the server);
    - ``workflow_sandbox=False`` (``ORDERFLOW_WORKFLOW_SANDBOX``): the SDK's
      ``UnsandboxedWorkflowRunner``; it drops the sandbox's determinism checks, which the
      default worker and the whole test suite keep (a nondeterministic change fails there).

    Worker tuning, as the bench sets it: 10 workflow-task and activity pollers instead of the
    SDK's 5, and eager workflow start (``request_eager_start``: the first workflow task
    comes back in the start response, because the client and the worker share a connection).
    """

    activity_mode: ActivityMode = ActivityMode.LOCAL
    status_search_attribute: bool = False
    workflow_sandbox: bool = False
    workflow_task_polls: int = 10
    activity_task_polls: int = 10
    max_concurrent_workflow_tasks: int = 100
    eager_start: bool = True

    def settings_env(self) -> str:
        """The configuration's settings as environment variables, for the docs."""
        env = self.settings(Settings()).to_env()
        names = ("ACTIVITY_MODE", "STATUS_SEARCH_ATTRIBUTE", "WORKFLOW_SANDBOX")
        return " ".join(f"ORDERFLOW_{name}={env[f'ORDERFLOW_{name}']}" for name in names)

    def settings(self, base: Settings) -> Settings:
        """``base`` with this configuration's settings."""
        return base.model_copy(
            update={
                "activity_mode": self.activity_mode,
                "status_search_attribute": self.status_search_attribute,
                "workflow_sandbox": self.workflow_sandbox,
            }
        )


FAST = FastKnobs()


@asynccontextmanager
async def floor_variant(
    ctx: BenchContext, tag: str, _orders: Sequence[Order]
) -> AsyncIterator[OrderRunner]:
    """The engine floor: empty workflows."""
    async with _worker(ctx.client, tag, [FloorWorkflow], []):

        async def one(order: Order) -> bool:
            await ctx.client.execute_workflow(
                FloorWorkflow.run, order.order_id, id=f"floor-{order.order_id}", task_queue=tag
            )
            return True

        yield one


def bare_variant(
    ctx: BenchContext, tag: str, _orders: Sequence[Order]
) -> AbstractAsyncContextManager[OrderRunner]:
    """The bare shape: ``ctx.bare_steps`` no-op activities in sequence."""
    return _steps_variant(ctx, tag, BareWorkflow, "bare")


def bare_local_variant(
    ctx: BenchContext, tag: str, _orders: Sequence[Order]
) -> AbstractAsyncContextManager[OrderRunner]:
    """What-if: the bare shape with local activities (see ``BareLocalWorkflow``)."""
    return _steps_variant(ctx, tag, BareLocalWorkflow, ActivityMode.LOCAL)


#: A fault-free single-parcel order's activities, in the order it runs them.
ORDER_SEQUENCE: tuple[Step, ...] = (
    Step.VALIDATE,
    Step.PAYMENT,
    Step.ALLOCATION,
    Step.INVENTORY,
    Step.SHIPPING_QUOTE,
    Step.SHIPMENT,
    Step.CAPTURE,
    Step.OUTCOME,
)


def order_mix(mode: ActivityMode) -> list[bool]:
    """Which of an order's activities ``mode`` runs as local ones, step by step."""
    return [step in LOCAL_STEPS[mode] for step in ORDER_SEQUENCE]


@asynccontextmanager
async def bare_mix_variant(
    ctx: BenchContext, tag: str, _orders: Sequence[Order], mode: ActivityMode
) -> AsyncIterator[OrderRunner]:
    """The bare shape of ``mode``'s own mix: the same regular and local activities, in the
    same order, as no-ops (``BareMixedWorkflow``)."""
    mix = order_mix(mode)
    async with _worker(ctx.client, tag, [BareMixedWorkflow], [noop_activity]):

        async def one(order: Order) -> bool:
            done = await ctx.client.execute_workflow(
                BareMixedWorkflow.run, mix, id=f"bare-{mode.value}-{order.order_id}", task_queue=tag
            )
            return bool(done == len(mix))

        yield one


@asynccontextmanager
async def _steps_variant(
    ctx: BenchContext, tag: str, workflow: type[BareWorkflow | BareLocalWorkflow], prefix: str
) -> AsyncIterator[OrderRunner]:
    async with _worker(ctx.client, tag, [workflow], [noop_activity]):

        async def one(order: Order) -> bool:
            done = await ctx.client.execute_workflow(
                workflow.run,
                ctx.bare_steps,
                id=f"{prefix}-{order.order_id}",
                task_queue=tag,
            )
            return done == ctx.bare_steps

        yield one


@asynccontextmanager
async def naive_variant(
    ctx: BenchContext, tag: str, orders: Sequence[Order]
) -> AsyncIterator[OrderRunner]:
    """The naive version on a worker with default settings (as the samples set one up)."""
    store = fresh_store(ctx.settings, ctx.work_dir / tag, orders)
    acts = NaiveActivities(
        store, PaymentGateway(store), InventorySystem(store), ShippingCarrier(store)
    )
    try:
        # The SDK samples' set-up: a thread pool for sync activities, every other knob default.
        with ThreadPoolExecutor(max_workers=100) as executor:
            async with Worker(
                ctx.client,
                task_queue=tag,
                workflows=[NaiveOrderWorkflow],
                activities=acts.all(),
                activity_executor=executor,
            ):

                async def one(order: Order) -> bool:
                    tracking = await ctx.client.execute_workflow(
                        NaiveOrderWorkflow.run, order, id=f"naive-{order.order_id}", task_queue=tag
                    )
                    return bool(tracking)

                yield one
    finally:
        store.engine.dispose()


#: Settings that shape the simulated world's faults: pinned to their documented defaults
#: (or off), so a developer's ORDERFLOW_* environment cannot skew a measurement.
_FAULT_KNOBS = (
    "payment_failure_rate",
    "inventory_failure_rate",
    "shipping_failure_rate",
    "lost_response_share",
    "slow_share",
    "slow_seconds",
)


def orderflow_settings(ctx: BenchContext, tag: str, *, faults: bool, seed: int) -> Settings:
    """Worker settings: fault rates 0, or the documented defaults (not the environment's)."""
    knobs = {
        name: field.default for name, field in Settings.model_fields.items() if name in _FAULT_KNOBS
    }
    if not faults:
        knobs.update({name: 0.0 for name in knobs if name.endswith("_failure_rate")})
    return ctx.settings.model_copy(
        update={
            **knobs,
            "seed": seed,
            "task_queue": tag,
            "data_dir": ctx.work_dir / tag,
            "database_url": "",
        }
    )


@asynccontextmanager
async def orderflow_variant(
    ctx: BenchContext,
    tag: str,
    orders: Sequence[Order],
    *,
    faults: bool = False,
    fast: FastKnobs | None = None,
    seed: int = 7,
    mode: ActivityMode | None = None,
    checkout: bool = False,
    tuning: FastKnobs | None = None,
) -> AsyncIterator[OrderRunner]:
    """orderflow's OrderWorkflow and activities: its own worker, or the fast configuration;
    ``mode``: another activity mode than the default; ``checkout``: time the checkout's
    answer (the priced order of a submission), not the order to its end; ``tuning``: only
    the worker tuning of a configuration (pollers, slots, eager start), not its settings."""
    settings = orderflow_settings(ctx, tag, faults=faults, seed=seed)
    if fast is not None:
        settings = fast.settings(settings)
    if mode is not None:
        settings = settings.model_copy(update={"activity_mode": mode})
    store = fresh_store(settings, settings.data_dir, orders)
    activities = build_activities(store, settings)
    service = build_service(ctx.client, store, settings)
    knobs = fast or tuning
    worker_options = (
        {
            "max_concurrent_workflow_tasks": knobs.max_concurrent_workflow_tasks,
            "max_concurrent_workflow_task_polls": knobs.workflow_task_polls,
            "max_concurrent_activity_task_polls": knobs.activity_task_polls,
        }
        if knobs is not None
        else {}
    )
    try:
        async with running_worker(ctx.client, settings, activities, **worker_options):
            if checkout:
                yield _checkout(service)
            else:
                yield _start_and_wait(service, eager=knobs is not None and knobs.eager_start)
    finally:
        store.engine.dispose()


@asynccontextmanager
async def orderflow_gzip_variant(
    ctx: BenchContext, tag: str, orders: Sequence[Order], *, seed: int = 7
) -> AsyncIterator[OrderRunner]:
    """The lever's other side: orderflow (faults off) with every gRPC message gzipped, as
    temporalio does by default (``ORDERFLOW_GRPC_COMPRESSION=gzip``); the bench's own
    client, like every orderflow client on loopback, sends them uncompressed."""
    from orderflow.temporal.client import connect

    gzipped = ctx.settings.model_copy(update={"grpc_compression": "gzip"})
    client = await connect(gzipped)
    other = BenchContext(
        client=client,
        clock=ctx.clock,
        settings=gzipped,
        work_dir=ctx.work_dir,
        bare_steps=ctx.bare_steps,
    )
    async with orderflow_variant(other, tag, orders, seed=seed) as one:
        yield one


#: Worker processes of the ``orderflow_fast_procs`` variant.
FAST_PROCESSES = 2


@asynccontextmanager
async def orderflow_processes_variant(
    ctx: BenchContext,
    tag: str,
    orders: Sequence[Order],
    *,
    processes: int = FAST_PROCESSES,
    fast: FastKnobs = FAST,
    seed: int = 7,
) -> AsyncIterator[OrderRunner]:
    """The fastest configuration's settings in ``processes`` ``orderflow worker`` processes.

    This process only starts orders and awaits them (no eager start: the workers hold
    their own connections); the workers' CPU counts as worker CPU.
    """
    settings = fast.settings(orderflow_settings(ctx, tag, faults=False, seed=seed))
    settings = settings.model_copy(update={"metrics_port": 0})
    store = fresh_store(settings, settings.data_dir, orders)
    env = settings.child_env(os.environ)
    try:
        async with worker_processes(processes, env, settings.data_dir) as workers:
            ctx.clock.worker_pids = [worker.pid for worker in workers]
            try:
                yield _start_and_wait(build_service(ctx.client, store, settings))
            finally:
                ctx.clock.worker_pids = []
    finally:
        store.engine.dispose()


def _start_and_wait(service: OrderService, *, eager: bool = False) -> OrderRunner:
    """Each order through the order service, as every door starts them; then its result."""

    async def one(order: Order) -> bool:
        await service.start(order, eager=eager)
        result = await service.result(order.order_id)
        # With faults, an order whose step exhausted its retries ends FAILED (compensated):
        # a finished order, timed like the others, and counted as failed.
        return result.status is OrderStatus.COMPLETED

    return one


class _Checkout:
    """The checkout's answer: ``OrderService.submit`` (what ``POST /orders`` does) until the
    priced order comes back. Then, untimed (``settle``), the order runs to its end before
    the lane checks out the next: the lanes keep ``concurrency`` orders in flight, and never
    accept orders faster than they are processed."""

    def __init__(self, service: OrderService) -> None:
        self.service = service

    async def __call__(self, order: Order) -> bool:
        submission = await self.service.submit(order)
        return submission.new

    async def settle(self, order: Order) -> None:
        await self.service.result(order.order_id)


def _checkout(service: OrderService) -> OrderRunner:
    return _Checkout(service)


class _ApiCheckout(_Checkout):
    """The checkout through the REST API: ``POST /orders`` over loopback HTTP, to the
    priced answer (201); then, untimed, the order runs to its end."""

    def __init__(self, service: OrderService, http: Any) -> None:
        super().__init__(service)
        self.http = http

    async def __call__(self, order: Order) -> bool:
        answer = await self.http.post("/orders", json=order.model_dump(mode="json"))
        return bool(answer.status_code == 201)


@asynccontextmanager
async def checkout_api_variant(
    ctx: BenchContext, tag: str, orders: Sequence[Order], *, seed: int = 7
) -> AsyncIterator[OrderRunner]:
    """The checkout's answer through the API: orderflow's own app (``create_app``, its
    auth, body limits and strict model) served by uvicorn on a free loopback port in this
    process, asked by an HTTP client on a kept-alive connection, as a shop's frontend
    would."""
    import secrets

    import httpx
    import uvicorn
    from pydantic import SecretStr

    from orderflow.api.app import create_app
    from orderflow.lab.bench.servers import free_port

    settings = orderflow_settings(ctx, tag, faults=False, seed=seed)
    key = secrets.token_urlsafe(24)
    settings = settings.model_copy(update={"api_keys": SecretStr(key)})
    store = fresh_store(settings, settings.data_dir, orders)
    service = build_service(ctx.client, store, settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, service),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
    )
    serving = asyncio.ensure_future(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()  # raises why it could not start
            await asyncio.sleep(0.01)
        async with (
            running_worker(ctx.client, settings, build_activities(store, settings)),
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            ) as http,
        ):
            yield _ApiCheckout(service, http)
    finally:
        server.should_exit = True
        await serving
        store.engine.dispose()


@asynccontextmanager
async def _worker(
    client: Client, tag: str, workflows: Sequence[type], activities: Sequence[Callable[..., object]]
) -> AsyncIterator[Worker]:
    """A worker with the machinery of orderflow's default worker (``running_worker``): its
    sandbox runner and its thread pool for sync activities, so that a bare shape differs
    from orderflow only by orderflow's own work."""
    threads = Settings.model_fields["activity_threads"].default
    with ThreadPoolExecutor(max_workers=2 * threads) as executor:
        async with Worker(
            client,
            task_queue=tag,
            workflows=list(workflows),
            activities=list(activities),
            activity_executor=executor,
            max_concurrent_activities=threads,
            max_concurrent_local_activities=threads,
            workflow_runner=workflow_runner(sandbox=True),
        ) as worker:
            yield worker
