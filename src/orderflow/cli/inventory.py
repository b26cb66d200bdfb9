"""``orderflow inventory``: stock per warehouse and SKU; restock (idempotent by key); set."""

from __future__ import annotations

from typing import Annotated

import typer

from orderflow.cli.common import AsJson, Exit, run_sync, settings_with
from orderflow.domain.catalog import DEFAULT_WAREHOUSE

inventory_app = typer.Typer(
    help="Stock per warehouse and SKU: show it, restock a shelf, set a shelf after a count.",
    no_args_is_help=True,
)

Sku = Annotated[str, typer.Argument(help="The SKU (see `orderflow inventory show`).")]
Warehouse = Annotated[str, typer.Option(help="The warehouse (WH-EAST or WH-WEST).")]


def _levels_text(levels: list[object]) -> str:
    from orderflow.app.inventory import StockLevel

    rows = [level for level in levels if isinstance(level, StockLevel)]
    width = max([len("SKU"), *(len(level.sku) for level in rows)])
    lines = [f"{'WAREHOUSE':<10}  {'SKU':<{width}}  {'AVAILABLE':>9}  {'HELD':>6}  {'SHIPPED':>7}"]
    lines += [
        f"{lv.warehouse:<10}  {lv.sku:<{width}}  {lv.available:>9}  {lv.held:>6}  {lv.shipped:>7}"
        for lv in rows
    ]
    return "\n".join(lines)


def _run(as_json: bool, call: str, *args: object) -> None:
    """Run one call of the stock service over the store (no Temporal needed)."""
    settings = settings_with()

    def main() -> int:
        import json

        from orderflow.app.inventory import Stock
        from orderflow.bootstrap import build_store
        from orderflow.store.db import display_url

        store = build_store(settings)
        try:
            stock = Stock(store)
            key = args[3] if call == "restock" and len(args) > 3 else None
            repeat = isinstance(key, str) and store.restocked(key)
            answer = getattr(stock, call)(*args)
        finally:
            store.engine.dispose()
        if repeat:
            typer.echo(f"restock {key!r} was done already: nothing added", err=True)
        levels = answer if isinstance(answer, list) else [answer]
        if as_json:
            typer.echo(json.dumps([level.model_dump(mode="json") for level in levels]))
        else:
            typer.echo(_levels_text(levels))
            typer.echo(f"store: {display_url(settings.db_url)}", err=True)
        return Exit.OK

    run_sync(main)


@inventory_app.command()
def show(as_json: AsJson = False) -> None:
    """Units per warehouse and SKU: on the shelf, held for orders, shipped."""
    _run(as_json, "levels")


#: Let "-5" reach the command as a number (it then says what a restock may be).
NUMBERS = {"ignore_unknown_options": True}


@inventory_app.command(context_settings=NUMBERS)
def restock(
    sku: Sku,
    units: Annotated[int, typer.Argument(help="Units to add (1 to 1,000,000).")],
    warehouse: Warehouse = DEFAULT_WAREHOUSE,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="Idempotency key: the same key restocks once, however often repeated.",
            show_default=False,
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Put UNITS more of SKU on a warehouse's shelf."""
    _run(as_json, "restock", sku, units, warehouse, key)


@inventory_app.command(name="set", context_settings=NUMBERS)
def set_level(
    sku: Sku,
    available: Annotated[int, typer.Argument(help="Units on the shelf after a count.")],
    warehouse: Warehouse = DEFAULT_WAREHOUSE,
    as_json: AsJson = False,
) -> None:
    """Set the units of SKU on a warehouse's shelf (held units stay held)."""
    _run(as_json, "set", sku, available, warehouse)
