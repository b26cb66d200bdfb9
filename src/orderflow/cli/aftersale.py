"""After delivery: ``refund`` and ``returns open|receive|show``.

The same strict models as the API read the flags (``orderflow.app.aftersale``), so what
the API refuses is refused here in the same words, exit status 2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from orderflow.cli.common import AsJson, Exit, run_async, settings_with

if TYPE_CHECKING:
    from orderflow.domain.models import AfterSale

returns_app = typer.Typer(
    help="Customer returns: open one, take in its items (restock and refund), show one.",
    no_args_is_help=True,
)

OrderId = Annotated[str, typer.Argument(help="A COMPLETED order's id.", show_default=False)]
Lines = Annotated[
    list[str] | None,
    typer.Option(
        "--line",
        help="SKU=QUANTITY of the order's units (repeat for more lines).",
        show_default=False,
    ),
]
Reason = Annotated[str, typer.Option(help="Why (kept with the refund; required).")]


def parse_lines(lines: list[str] | None) -> list[dict[str, Any]] | None:
    """``["MUG-LOGO=1"]`` -> ``[{"sku": "MUG-LOGO", "quantity": 1}]``, refused by field.

    Raises:
        OrderRejected: a line is not SKU=QUANTITY with a whole quantity.
    """
    from orderflow.app.errors import OrderRejected

    if not lines:
        return None
    parsed: list[dict[str, Any]] = []
    for index, text in enumerate(lines):
        sku, sep, quantity = text.partition("=")
        if not sep or not sku:
            raise OrderRejected.one(f"lines[{index}]", "must be SKU=QUANTITY (e.g. MUG-LOGO=1)")
        try:
            units = int(quantity)
        except ValueError:
            raise OrderRejected.one(
                f"lines[{index}].quantity", "must be a whole number (a JSON integer)"
            ) from None
        parsed.append({"sku": sku, "quantity": units})
    return parsed


def refund(
    order_id: OrderId,
    reason: Reason = "",
    amount: Annotated[
        str | None,
        typer.Option(
            help="Refund this much (e.g. 12.50); default: everything left.", show_default=False
        ),
    ] = None,
    line: Lines = None,
    refund_id: Annotated[
        str | None,
        typer.Option(
            "--id", help="Your id for it: the same id again is the same refund.", show_default=False
        ),
    ] = None,
    operator: Annotated[str, typer.Option(help="Who refunds (kept with the reason).")] = "",
    wait: Annotated[bool, typer.Option(help="Wait until it is paid out (or failed).")] = True,
    as_json: AsJson = False,
) -> None:
    """Refund a COMPLETED order: everything left, an --amount, or --line SKU=QTY (their
    goods and tax); at most what it kept. Exit 0 when refunded, 3 when the gateway
    refused it, 5 when the order is not completed or has nothing left to refund."""
    settings = settings_with()

    async def main() -> int:
        from orderflow.app.aftersale import RefundCreate, parse
        from orderflow.bootstrap import connected_service

        data: dict[str, Any] = {"reason": reason, "operator": operator}
        if amount is not None:
            data["amount"] = amount
        if refund_id is not None:
            data["refund_id"] = refund_id
        lines = parse_lines(line)
        if lines is not None:
            data["lines"] = lines
        ask = parse(RefundCreate, data, "refund")
        assert isinstance(ask, RefundCreate)
        async with connected_service(settings) as service:
            sale, _new = await service.refund(order_id, ask)
            if wait:
                sale = await service.after_sales.wait(sale)
        return _show(sale, as_json)

    run_async(main)


@returns_app.command("open")
def open_return(
    order_id: OrderId,
    line: Lines = None,
    reason: Reason = "",
    return_id: Annotated[
        str | None,
        typer.Option(
            "--id", help="Your id for it: the same id again is the same return.", show_default=False
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Open a return of a COMPLETED order's units (--line SKU=QTY): it waits for them for
    the return window (ORDERFLOW_RETURN_WINDOW_S, 30 days), then `returns receive`."""
    settings = settings_with()

    async def main() -> int:
        from orderflow.app.aftersale import ReturnCreate, parse
        from orderflow.bootstrap import connected_service

        data: dict[str, Any] = {"reason": reason}
        lines = parse_lines(line)
        if lines is not None:
            data["lines"] = lines
        if return_id is not None:
            data["return_id"] = return_id
        ask = parse(ReturnCreate, data, "return")
        assert isinstance(ask, ReturnCreate)
        async with connected_service(settings) as service:
            sale, _new = await service.open_return(order_id, ask)
        return _show(sale, as_json)

    run_async(main)


@returns_app.command("receive")
def receive(
    return_id: Annotated[str, typer.Argument(help="The return's id.", show_default=False)],
    operator: Annotated[str, typer.Option(help="Who took the items in.")] = "",
    note: Annotated[str, typer.Option(help="What arrived (kept in the log).")] = "",
    as_json: AsJson = False,
) -> None:
    """A return's items arrived: put them back on the shelf and refund them."""
    settings = settings_with()

    async def main() -> int:
        from orderflow.app.aftersale import ReceiveCreate, parse
        from orderflow.bootstrap import connected_service

        ask = parse(ReceiveCreate, {"operator": operator, "note": note}, "receive")
        assert isinstance(ask, ReceiveCreate)
        async with connected_service(settings) as service:
            sale = await service.receive_return(return_id, ask)
        return _show(sale, as_json)

    run_async(main)


@returns_app.command("show")
def show(
    return_id: Annotated[
        str, typer.Argument(help="A refund's or return's id.", show_default=False)
    ],
    as_json: AsJson = False,
) -> None:
    """Show one refund or return (no worker needed)."""
    settings = settings_with()

    async def main() -> int:
        from orderflow.bootstrap import connected_service

        async with connected_service(settings) as service:
            sale = service.after_sale(return_id)
        _show(sale, as_json)
        return Exit.OK

    run_async(main)


def _show(sale: AfterSale, as_json: bool) -> int:
    from orderflow.cli.render import dumps, sale_text

    typer.echo(dumps(sale.model_dump(mode="json")) if as_json else sale_text(sale))
    return Exit.ORDER_FAILED if sale.status.value == "failed" else Exit.OK
