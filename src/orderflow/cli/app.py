"""The ``orderflow`` command: server, worker, submit, status, demo, audit, legacy."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from orderflow.cli.api import api
from orderflow.cli.batch import demo, legacy
from orderflow.cli.bench import bench
from orderflow.cli.chaos import chaos
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
from orderflow.cli.db import db_app

app = typer.Typer(
    help="Order processing on Temporal: a six-step saga with real state and fault injection.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def server(
    detach: Annotated[
        bool, typer.Option("--detach", help="Start in the background and return (pid file).")
    ] = False,
    stop: Annotated[
        bool, typer.Option("--stop", help="Stop a server started with --detach.")
    ] = False,
) -> None:
    """Run the embedded Temporal dev server (SQLite-persisted, 127.0.0.1, UI on 8233)."""
    from orderflow.temporal.devserver import DevServer, DevServerError, is_listening

    settings = settings_with()
    dev = DevServer(settings)
    if stop:
        stopped = dev.stop_detached()
        typer.echo("Temporal dev server stopped" if stopped else "no detached server recorded")
        return
    if is_listening(settings.temporal_address):
        typer.echo(f"a Temporal server already answers on {settings.temporal_address}")
        typer.echo(f"Web UI: {settings.ui_url}")
        if detach:
            return
        raise typer.Exit(1)
    try:
        typer.echo(f"Temporal dev server on {settings.temporal_address}; UI {settings.ui_url}")
        typer.echo(f"State persisted in {settings.temporal_db}.")
        if detach:
            dev.start(detach=True)
            typer.echo("Running in the background; `orderflow server --stop` stops it.")
            return
        typer.echo("Ctrl-C stops it.")
        raise typer.Exit(dev.run_foreground())
    except DevServerError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err


@app.command()
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


@app.command(name="list")
def list_orders(
    status: Annotated[
        str | None, typer.Option(help="Only orders in this status (e.g. COMPLETED, FAILED).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 50,
) -> None:
    """List orders, newest first, filtered by the OrderStatus search attribute."""
    from orderflow.app.orders import OrderService
    from orderflow.domain.status import OrderStatus
    from orderflow.temporal.client import connect
    from orderflow.worker import build_store

    settings = settings_with()
    try:
        wanted = OrderStatus(status.upper()) if status else None
    except ValueError:
        choices = ", ".join(s.value for s in OrderStatus)
        typer.echo(f"error: --status must be one of {choices}", err=True)
        raise typer.Exit(2) from None
    if wanted is not None and settings.status_updates == "resting":
        from orderflow.domain.status import RESTING

        if wanted not in RESTING and wanted is not OrderStatus.RECEIVED:
            typer.echo(
                f"note: orders pass {wanted.value} without writing it to OrderStatus "
                "(ORDERFLOW_STATUS_UPDATES=resting); orders in progress show RECEIVED",
                err=True,
            )

    async def main() -> int:
        client = await connect(settings)
        service = OrderService(client, build_store(settings), settings.task_queue)
        orders = await service.list_orders(wanted, limit)
        for order in orders:
            typer.echo(f"{order.order_id:<32} {order.status:<16} {order.workflow_status}")
        typer.echo(f"{len(orders)} order(s)", err=True)
        return 0

    run_async(main)


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(help="Order JSON file ('-' reads standard input).")],
    wait: Annotated[bool, typer.Option(help="Wait for the outcome and print it.")] = True,
) -> None:
    """Submit one order from a JSON file; submitting the same order id twice is safe."""
    from orderflow.domain.models import Order
    from orderflow.temporal.client import connect, order_options, start_order

    settings = settings_with()
    text = sys.stdin.read() if str(file) == "-" else file.read_text()
    try:
        order = Order.model_validate_json(text)
    except ValidationError as err:
        for problem in err.errors():
            where = ".".join(str(part) for part in problem["loc"]) or "order"
            typer.echo(f"invalid order: {where}: {problem['msg']}", err=True)
        raise typer.Exit(2) from err

    async def main() -> int:
        client = await connect(settings)
        handle = await start_order(client, order, settings.task_queue, order_options(settings))
        typer.echo(f"order {order.order_id} submitted as workflow {handle.id}")
        if wait:
            result = await handle.result()
            typer.echo(result.model_dump_json(indent=2))
        return 0

    run_async(main)


@app.command()
def status(order_id: Annotated[str, typer.Argument(help="The order id.")]) -> None:
    """Show an order's status, current step, attempts and compensations."""
    from temporalio.service import RPCError

    from orderflow.temporal.client import connect, workflow_id
    from orderflow.workflows.order import OrderWorkflow

    settings = settings_with()

    async def main() -> int:
        client = await connect(settings)
        handle = client.get_workflow_handle_for(OrderWorkflow.run, workflow_id(order_id))
        try:
            state = await handle.query(OrderWorkflow.status)
        except RPCError as err:
            typer.echo(f"error: order {order_id}: {err.message}", err=True)
            return 1
        typer.echo(state.model_dump_json(indent=2))
        return 0

    run_async(main)


@app.command()
def audit(
    prefix: Annotated[str | None, typer.Option(help="Only orders whose id starts so.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Cross-check the database's invariants; exit status 1 if any is violated."""
    from orderflow.store.audit import run_audit
    from orderflow.worker import build_store

    store = build_store(settings_with())
    report = run_audit(store.engine, order_prefix=prefix)
    if as_json:
        typer.echo(json.dumps(report.summary(), default=str))
    else:
        typer.echo(
            f"audit of {report.orders_checked} order(s): {report.complete} complete, "
            f"{report.clean} clean, {len(report.violations)} violation(s)"
        )
        for violation in report.violations:
            typer.echo(f"  ! {violation}")
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def resolve(
    order_id: Annotated[str, typer.Argument(help="An order in NEEDS_ATTENTION.")],
    retry: Annotated[
        bool, typer.Option("--retry", help="Run the failed compensations again.")
    ] = False,
    mark_refunded: Annotated[
        bool, typer.Option("--mark-refunded", help="You refunded by hand: record it.")
    ] = False,
    mark_released: Annotated[
        bool, typer.Option("--mark-released", help="You released the stock by hand: record it.")
    ] = False,
    mark_cancelled: Annotated[
        bool, typer.Option("--mark-cancelled", help="You cancelled the shipment by hand.")
    ] = False,
    operator: Annotated[str, typer.Option(help="Who decides (kept in the order's log).")] = "",
    note: Annotated[str, typer.Option(help="Why (kept in the order's log).")] = "",
) -> None:
    """Settle an order that NEEDS_ATTENTION: retry its compensations or record a manual fix."""
    from orderflow.app.orders import ConflictError, OrderNotFound, OrderService
    from orderflow.temporal.client import connect
    from orderflow.worker import build_store
    from orderflow.workflows.messages import Resolution

    chosen = [
        name
        for name, flag in (
            ("retry", retry),
            ("mark_refunded", mark_refunded),
            ("mark_released", mark_released),
            ("mark_cancelled", mark_cancelled),
        )
        if flag
    ]
    if len(chosen) != 1:
        typer.echo(
            "error: give exactly one of --retry, --mark-refunded, --mark-released, "
            "--mark-cancelled",
            err=True,
        )
        raise typer.Exit(2)
    settings = settings_with()

    async def main() -> int:
        client = await connect(settings)
        service = OrderService(client, build_store(settings), settings.task_queue)
        try:
            state = await service.resolve(
                order_id, Resolution(action=chosen[0], operator=operator, note=note)
            )
        except (ConflictError, OrderNotFound) as err:
            typer.echo(f"error: {err}", err=True)
            return 1
        typer.echo(state.model_dump_json(indent=2))
        return 0

    run_async(main)


@app.command()
def reconcile(
    schedule: Annotated[
        bool, typer.Option("--schedule", help="Create/update the Temporal Schedule instead.")
    ] = False,
    every: Annotated[float, typer.Option(min=10, help="Seconds between scheduled passes.")] = 600.0,
    repair: Annotated[bool, typer.Option(help="Repair the drift that is safe to repair.")] = True,
    stale_after: Annotated[
        float, typer.Option(min=0, help="Seconds before an order without outcome is drift.")
    ] = 3600.0,
) -> None:
    """Compare the ledger, stock and shipments with order outcomes; report (and repair)."""
    from datetime import timedelta

    from orderflow.app.reconciliation import SCHEDULE_ID, ensure_schedule, reconcile_now
    from orderflow.temporal.client import connect
    from orderflow.workflows.messages import ReconcileRequest

    settings = settings_with()
    request = ReconcileRequest(repair=repair, stale_after_s=stale_after)

    async def main() -> int:
        client = await connect(settings)
        if schedule:
            await ensure_schedule(client, settings.task_queue, timedelta(seconds=every), request)
            typer.echo(f"schedule {SCHEDULE_ID!r}: a reconciliation pass every {every:g}s")
            return 0
        report = await reconcile_now(client, settings.task_queue, request)
        typer.echo(f"checked {report.orders_checked} order(s): {len(report.drift)} drift(s)")
        for line in report.drift:
            typer.echo(f"  ! {line}")
        for line in report.repaired:
            typer.echo(f"  repaired: {line}")
        return 0 if report.clean else 1

    run_async(main)


@app.command()
def keygen(key_id: Annotated[str, typer.Argument(help="A name for the key.")] = "k1") -> None:
    """Print a new AES-256 key entry for ORDERFLOW_ENCRYPTION_KEYS (payload encryption)."""
    from orderflow.temporal.codec import new_key_entry

    typer.echo(new_key_entry(key_id))


app.command()(demo)
app.command()(legacy)
app.command()(api)
app.command()(chaos)
app.command()(bench)
app.add_typer(db_app, name="db")


def main() -> None:
    """Console-script entry point."""
    app()
