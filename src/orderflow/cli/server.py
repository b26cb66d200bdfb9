"""The embedded Temporal dev server: ``orderflow server [--detach|--stop]``."""

from __future__ import annotations

from typing import Annotated

import typer

from orderflow.cli.common import settings_with


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
