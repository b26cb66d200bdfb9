"""Orders: ``submit``, ``status``, ``list``, ``resolve``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from orderflow.cli.common import run_async, settings_with


def list_orders(
    status: Annotated[
        str | None, typer.Option(help="Only orders in this status (e.g. COMPLETED, FAILED).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 50,
) -> None:
    """List orders, newest first, filtered by the OrderStatus search attribute."""
    from orderflow.app.orders import OrderService
    from orderflow.bootstrap import build_store
    from orderflow.domain.status import OrderStatus
    from orderflow.temporal.client import connect
    from orderflow.workflows.messages import StatusUpdates

    settings = settings_with()
    try:
        wanted = OrderStatus(status.upper()) if status else None
    except ValueError:
        choices = ", ".join(s.value for s in OrderStatus)
        typer.echo(f"error: --status must be one of {choices}", err=True)
        raise typer.Exit(2) from None
    if wanted is not None and settings.status_updates is StatusUpdates.RESTING:
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
    from orderflow.bootstrap import build_store
    from orderflow.temporal.client import connect
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
