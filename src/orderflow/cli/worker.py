"""``orderflow worker``: the order workflow and its activities, in one or more processes."""

from __future__ import annotations

from typing import Annotated

import typer

from orderflow.cli.common import (
    Exit,
    InventoryRate,
    LostShare,
    PaymentRate,
    Seed,
    ShippingRate,
    fail,
    faults,
    run_async,
    say,
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
    from orderflow.bootstrap import connect_client
    from orderflow.temporal.client import metrics_runtime
    from orderflow.temporal.devserver import is_listening
    from orderflow.worker import run_worker, run_worker_processes

    setup_logging()
    rates = faults(
        payment_failure_rate, inventory_failure_rate, shipping_failure_rate, lost_response_share
    )
    settings = settings_with(
        task_queue=task_queue,
        temporal_namespace=namespace,
        metrics_port=metrics_port,
        seed=seed,
        **rates,
    )
    if processes > 1:
        raise typer.Exit(run_worker_processes(processes, settings))

    port = settings.metrics_port
    taken = (
        f"metrics port {port} on 127.0.0.1 is in use (another worker?): give --metrics-port "
        "with a free port, or 0 to serve no metrics"
    )
    if port and is_listening(f"127.0.0.1:{port}"):
        fail(taken, Exit.REFUSED)

    async def main() -> int:
        try:
            runtime = metrics_runtime(port) if port else None
        except ValueError:  # taken between the look and the bind
            fail(taken, Exit.REFUSED)
        client = await connect_client(settings, runtime)
        if runtime is not None:
            say(f"metrics: http://127.0.0.1:{port}/metrics")
        await run_worker(settings, client)
        return Exit.OK

    run_async(main)
