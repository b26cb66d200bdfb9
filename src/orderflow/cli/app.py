"""The ``orderflow`` Typer application: every command group registered in one place."""

from __future__ import annotations

import typer

from orderflow.cli.api import api
from orderflow.cli.audit import audit, reconcile
from orderflow.cli.batch import demo, legacy
from orderflow.cli.bench import bench
from orderflow.cli.chaos import chaos
from orderflow.cli.db import db_app
from orderflow.cli.keys import keygen
from orderflow.cli.orders import approve, cancel, list_orders, reject, resolve, status, submit
from orderflow.cli.server import server
from orderflow.cli.worker import worker

app = typer.Typer(
    help="Order processing on Temporal: a six-step saga with real state and fault injection.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

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
app.command()(reconcile)
app.command()(keygen)
app.command()(demo)
app.command()(legacy)
app.command()(api)
app.command()(chaos)
app.command()(bench)
app.add_typer(db_app, name="db")


def main() -> None:
    """Console-script entry point."""
    app()
