"""``orderflow demo`` and ``orderflow legacy``: a batch of orders, then the same summary."""

from __future__ import annotations

import random
from typing import Annotated

import typer

from orderflow.cli.common import (
    InventoryRate,
    LostShare,
    PaymentRate,
    Seed,
    ShippingRate,
    exit_now,
    run_async,
    settings_with,
    setup_logging,
)

Orders = Annotated[int, typer.Option("--orders", min=1, max=100_000, help="Orders to submit.")]
AsJson = Annotated[
    bool, typer.Option("--json", help="End with one JSON line of figures (for scripts).")
]


async def _has_pollers(client: object, namespace: str, task_queue: str) -> bool:
    """True when some worker already polls the task queue."""
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
    from temporalio.client import Client

    assert isinstance(client, Client)
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return len(response.pollers) > 0


def demo(
    orders: Orders = 50,
    seed: Seed = None,
    as_json: AsJson = False,
    payment_failure_rate: PaymentRate = None,
    inventory_failure_rate: InventoryRate = None,
    shipping_failure_rate: ShippingRate = None,
    lost_response_share: LostShare = None,
) -> None:
    """Run a batch of varied orders through Temporal and audit the result.

    Starts the embedded server and a worker if none is reachable; stops only what it started.
    """
    from contextlib import AsyncExitStack

    from orderflow.bootstrap import build_activities, build_store
    from orderflow.lab.batch import new_batch_id, run_batch
    from orderflow.lab.samples import generate_orders
    from orderflow.temporal.client import connect, order_options
    from orderflow.temporal.devserver import (
        DevServer,
        DevServerError,
        is_listening,
        wait_for_namespace,
    )
    from orderflow.worker import running_worker

    setup_logging()
    seed = seed if seed is not None else random.SystemRandom().randrange(1_000_000)
    settings = settings_with(
        seed=seed,
        payment_failure_rate=payment_failure_rate,
        inventory_failure_rate=inventory_failure_rate,
        shipping_failure_rate=shipping_failure_rate,
        lost_response_share=lost_response_share,
    )

    async def main() -> int:
        dev: DevServer | None = None
        async with AsyncExitStack() as stack:
            if not is_listening(settings.temporal_address):
                typer.echo(f"starting the embedded Temporal server on {settings.temporal_address}")
                dev = DevServer(settings)
                try:
                    dev.start()
                except DevServerError as err:
                    typer.echo(f"error: {err}", err=True)
                    return 1
                stack.callback(dev.stop)
            await wait_for_namespace(settings)
            client = await connect(settings)
            store = build_store(settings)
            stack.callback(store.engine.dispose)
            if await _has_pollers(client, settings.temporal_namespace, settings.task_queue):
                typer.echo(
                    f"using the worker(s) already polling {settings.task_queue!r} "
                    "(their own fault settings apply)"
                )
            else:
                typer.echo(
                    f"starting a worker; faults: payment {settings.payment_failure_rate:.0%}, "
                    f"inventory {settings.inventory_failure_rate:.0%}, "
                    f"shipping {settings.shipping_failure_rate:.0%}, seed {seed}"
                )
                activities = build_activities(store, settings)
                await stack.enter_async_context(running_worker(client, settings, activities))
            batch = new_batch_id("demo")
            batch_orders = generate_orders(orders, seed, batch)
            typer.echo(f"submitting {orders} orders (batch {batch.rstrip('-')}) ...")
            report = await run_batch(
                client,
                store,
                batch_orders,
                task_queue=settings.task_queue,
                batch=batch,
                options=order_options(settings),
                on_progress=typer.echo,
            )
            report.ui_url = settings.ui_url
        typer.echo("")
        typer.echo(report.table())
        typer.echo(f"Temporal Web UI: {settings.ui_url}")
        if dev is not None:
            typer.echo("(the embedded server was stopped; `orderflow server` keeps it running)")
        if as_json:
            typer.echo(report.json_line())
        return 0 if report.audit.ok and not report.lost else 1

    run_async(main)


def legacy(
    orders: Orders = 50,
    seed: Seed = None,
    as_json: AsJson = False,
    payment_failure_rate: PaymentRate = None,
    inventory_failure_rate: InventoryRate = None,
    shipping_failure_rate: ShippingRate = None,
    lost_response_share: LostShare = None,
) -> None:
    """Run the same batch through the naive processor (retry loops, no compensation)."""
    from orderflow.bootstrap import build_store, build_world
    from orderflow.lab.batch import new_batch_id
    from orderflow.lab.legacy.run import run_legacy_batch
    from orderflow.lab.samples import generate_orders

    setup_logging()
    seed = seed if seed is not None else random.SystemRandom().randrange(1_000_000)
    settings = settings_with(
        seed=seed,
        payment_failure_rate=payment_failure_rate,
        inventory_failure_rate=inventory_failure_rate,
        shipping_failure_rate=shipping_failure_rate,
        lost_response_share=lost_response_share,
    )
    store = build_store(settings)
    batch = new_batch_id("legacy")
    report = run_legacy_batch(
        store, build_world(store, settings), generate_orders(orders, seed, batch), batch=batch
    )
    typer.echo(report.table())
    typer.echo(
        "The legacy processor has no compensation and no idempotency: every violation above "
        "is money or stock a real shop would have to chase by hand."
    )
    if as_json:
        typer.echo(report.json_line())
    exit_now(0)
