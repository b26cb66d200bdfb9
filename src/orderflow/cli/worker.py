"""``orderflow worker``: the order workflow and its activities, in one or more processes."""

from __future__ import annotations

from typing import Annotated

import typer

from orderflow.cli.common import (
    InventoryRate,
    LostShare,
    PaymentRate,
    Seed,
    ShippingRate,
    run_async,
    settings_with,
    setup_logging,
)


def worker(
    task_queue: Annotated[str | None, typer.Option(help="Task queue to poll.")] = None,
    namespace: Annotated[str | None, typer.Option(help="Temporal namespace.")] = None,
    processes: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes on this machine (one queue).")
    ] = 1,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            help="Prometheus port on 127.0.0.1 (default 9464; 0 disables); "
            "process i of --processes uses PORT+i."
        ),
    ] = None,
    payment_failure_rate: PaymentRate = None,
    inventory_failure_rate: InventoryRate = None,
    shipping_failure_rate: ShippingRate = None,
    lost_response_share: LostShare = None,
    seed: Seed = None,
) -> None:
    """Run a worker: the order workflow and its activities (TEMPORAL_ADDRESS, default local).

    Connection options (TLS client certificate and key, CA, API key, profiles) come from
    temporalio's standard environment configuration: TEMPORAL_API_KEY,
    TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH.
    """
    from orderflow.temporal.client import connect, metrics_runtime
    from orderflow.worker import run_worker, run_worker_processes

    setup_logging()
    settings = settings_with(
        task_queue=task_queue,
        temporal_namespace=namespace,
        metrics_port=metrics_port,
        payment_failure_rate=payment_failure_rate,
        inventory_failure_rate=inventory_failure_rate,
        shipping_failure_rate=shipping_failure_rate,
        lost_response_share=lost_response_share,
        seed=seed,
    )
    if processes > 1:
        raise typer.Exit(run_worker_processes(processes, settings))

    async def main() -> int:
        runtime = metrics_runtime(settings.metrics_port) if settings.metrics_port else None
        try:
            client = await connect(settings, runtime)
        except RuntimeError as err:
            typer.echo(
                f"error: cannot reach Temporal at {settings.temporal_address}: {err}", err=True
            )
            return 1
        if runtime is not None:
            typer.echo(f"metrics: http://127.0.0.1:{settings.metrics_port}/metrics", err=True)
        await run_worker(settings, client)
        return 0

    run_async(main)
