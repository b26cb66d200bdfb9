"""The ``orderflow`` Typer application: every command group registered in one place."""

from __future__ import annotations

from typing import Annotated

import typer

from orderflow.cli.aftersale import refund, returns_app
from orderflow.cli.api import api
from orderflow.cli.audit import audit, reconcile
from orderflow.cli.batch import demo, legacy
from orderflow.cli.bench import bench, bench_scale
from orderflow.cli.chaos import chaos
from orderflow.cli.db import db_app
from orderflow.cli.inventory import inventory_app
from orderflow.cli.keys import keygen
from orderflow.cli.orders import approve, cancel, list_orders, reject, resolve, status, submit
from orderflow.cli.server import server
from orderflow.cli.worker import worker

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: wraps cleanly at 80 columns, no boxes cutting option names.
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        import orderflow

        typer.echo(f"orderflow {orderflow.__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Order processing on Temporal: a six-step saga with real state and fault injection.

    Exit status: 0 success; 1 a check failed (audit, reconcile, a batch); 2 refused input
    (nothing was started); 3 the order failed or was cancelled; 4 no such order; 5 the
    order's state does not allow it; 6 Temporal does not answer; 7 the database does not
    answer or does not exist; 8 nothing processes the order (no worker, or workers that
    fail it); 70 a bug in orderflow; 130 interrupted.
    """


app.command()(server)
app.command()(worker)
app.command(name="list")(list_orders)
app.command()(submit)
app.command()(status)
app.command()(cancel)
app.command()(approve)
app.command()(reject)
app.command()(audit)
app.command()(resolve)
app.command()(refund)
app.command()(reconcile)
app.command()(keygen)
app.command()(demo)
app.command()(legacy)
app.command()(api)
app.command()(chaos)
app.command()(bench)
app.command("bench-scale")(bench_scale)
app.add_typer(inventory_app, name="inventory")
app.add_typer(db_app, name="db")
app.add_typer(returns_app, name="returns")


def main() -> None:
    """Console-script entry point."""
    app()
