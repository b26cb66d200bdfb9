"""The Temporal variants: floor, bare shape, naive version, orderflow (three configurations).

Each variant is an async context manager that starts its own worker on its own task queue
(and its own fresh store), yields a coroutine that runs one order start to result, and
stops the worker when the block ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from orderflow.bench.bare import BareLocalWorkflow, BareWorkflow, FloorWorkflow, noop_activity
from orderflow.bench.measure import CpuClock
from orderflow.bench.naive import NaiveOrderWorkflow
from orderflow.bench.naive_activities import NaiveActivities
from orderflow.bench.workload import fresh_store
from orderflow.config import Settings
from orderflow.domain.models import Order
from orderflow.domain.status import OrderStatus
from orderflow.services.simulated import InventorySystem, PaymentGateway, ShippingCarrier
from orderflow.temporal_client import order_options, start_order, workflow_id
from orderflow.worker import build_activities, running_worker
from orderflow.workflows.messages import ActivityMode, OrderInput, OrderOptions
from orderflow.workflows.order import OrderWorkflow

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
    """The fastest orderflow configuration reachable from existing knobs (no code change).

    - ``status_search_attribute=False``: no ``UpsertWorkflowSearchAttributes`` per status
      change, and no initial search attribute at start (visibility writes on the server);
    - the sandbox passes ``orderflow`` modules through, so the workflow module is not
      re-imported for every run (the sandbox's determinism checks still apply);
    - 10 workflow-task and activity pollers instead of the SDK's default 5;
    - eager workflow start (``request_eager_start``): the first workflow task comes back in
      the start response, because the client and the worker share one connection;
    - ``activity_mode="local"``: every forward step a local activity (compensations stay
      regular), so a fault-free order is one or two workflow tasks.

    ``unsandboxed`` (the SDK's ``UnsandboxedWorkflowRunner``) stays off: it saves a little
    more worker CPU but drops the sandbox's determinism checks, a trade this configuration
    does not make.
    """

    status_search_attribute: bool = False
    passthrough_orderflow: bool = True
    workflow_task_polls: int = 10
    activity_task_polls: int = 10
    activity_threads: int = 32
    max_concurrent_workflow_tasks: int = 100
    eager_start: bool = True
    unsandboxed: bool = False
    activity_mode: ActivityMode = "local"


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


@asynccontextmanager
async def bare_variant(
    ctx: BenchContext, tag: str, _orders: Sequence[Order]
) -> AsyncIterator[OrderRunner]:
    """The bare shape: ``ctx.bare_steps`` no-op activities in sequence."""
    async with _worker(ctx.client, tag, [BareWorkflow], [noop_activity]):

        async def one(order: Order) -> bool:
            done = await ctx.client.execute_workflow(
                BareWorkflow.run, ctx.bare_steps, id=f"bare-{order.order_id}", task_queue=tag
            )
            return done == ctx.bare_steps

        yield one


@asynccontextmanager
async def bare_local_variant(
    ctx: BenchContext, tag: str, _orders: Sequence[Order]
) -> AsyncIterator[OrderRunner]:
    """What-if: the bare shape with local activities (see ``BareLocalWorkflow``)."""
    async with _worker(ctx.client, tag, [BareLocalWorkflow], [noop_activity]):

        async def one(order: Order) -> bool:
            done = await ctx.client.execute_workflow(
                BareLocalWorkflow.run, ctx.bare_steps, id=f"local-{order.order_id}", task_queue=tag
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
) -> AsyncIterator[OrderRunner]:
    """orderflow's OrderWorkflow and activities: its own worker, or the fast configuration."""
    settings = orderflow_settings(ctx, tag, faults=faults, seed=seed)
    store = fresh_store(settings, settings.data_dir, orders)
    activities = build_activities(store, settings)
    options = order_options(settings)
    if fast is not None:
        options = options.model_copy(
            update={
                "status_search_attribute": fast.status_search_attribute,
                "activity_mode": fast.activity_mode,
            }
        )
    try:
        if fast is None:
            async with running_worker(ctx.client, settings, activities):
                yield _start_and_wait(ctx.client, tag, options)
            return
        with ThreadPoolExecutor(max_workers=fast.activity_threads) as executor:
            restrictions = SandboxRestrictions.default
            if fast.passthrough_orderflow:
                restrictions = restrictions.with_passthrough_modules("orderflow")
            async with Worker(
                ctx.client,
                task_queue=tag,
                workflows=[OrderWorkflow],
                activities=activities.all(),
                activity_executor=executor,
                max_concurrent_activities=fast.activity_threads,
                max_concurrent_workflow_tasks=fast.max_concurrent_workflow_tasks,
                max_concurrent_workflow_task_polls=fast.workflow_task_polls,
                max_concurrent_activity_task_polls=fast.activity_task_polls,
                workflow_runner=(
                    UnsandboxedWorkflowRunner()
                    if fast.unsandboxed
                    else SandboxedWorkflowRunner(restrictions=restrictions)
                ),
            ):
                yield (
                    _start_eager(ctx.client, tag, options)
                    if fast.eager_start
                    else _start_and_wait(ctx.client, tag, options)
                )
    finally:
        store.engine.dispose()


def _start_and_wait(client: Client, tag: str, options: OrderOptions) -> OrderRunner:
    async def one(order: Order) -> bool:
        handle = await start_order(client, order, tag, options)
        result = await handle.result()
        # With faults, an order whose step exhausted its retries ends FAILED (compensated):
        # a finished order, timed like the others, and counted as failed.
        return result.status is OrderStatus.COMPLETED

    return one


def _start_eager(client: Client, tag: str, options: OrderOptions) -> OrderRunner:
    async def one(order: Order) -> bool:
        handle = await client.start_workflow(
            OrderWorkflow.run,
            OrderInput(order=order, options=options),
            id=workflow_id(order.order_id),
            task_queue=tag,
            request_eager_start=True,
        )
        result = await handle.result()
        return result.status is OrderStatus.COMPLETED

    return one


@asynccontextmanager
async def _worker(
    client: Client, tag: str, workflows: Sequence[type], activities: Sequence[Callable[..., object]]
) -> AsyncIterator[Worker]:
    """A worker with orderflow's settings (a 32-thread pool for sync activities)."""
    threads = Settings.model_fields["activity_threads"].default
    with ThreadPoolExecutor(max_workers=threads) as executor:
        async with Worker(
            client,
            task_queue=tag,
            workflows=list(workflows),
            activities=list(activities),
            activity_executor=executor,
            max_concurrent_activities=threads,
        ) as worker:
            yield worker
