"""The embedded dev stack: ``orderflow server [--detach|--stop]``."""

from __future__ import annotations

from typing import Annotated

import typer

from orderflow.cli.common import Exit, fail, run_async, say, settings_with


def server(
    detach: Annotated[
        bool, typer.Option("--detach", help="Start in the background and return (pid file).")
    ] = False,
    stop: Annotated[
        bool, typer.Option("--stop", help="Stop a server started with --detach.")
    ] = False,
) -> None:
    """Run the embedded Temporal dev server (SQLite-persisted, 127.0.0.1, UI on 8233).

    Beside it, on 127.0.0.1 only, the codec its Web UI shows payloads in clear with (they
    are encrypted in Temporal). Exit status 6 when it cannot start.
    """
    from orderflow.cli import stack
    from orderflow.temporal.devserver import DevServerError, is_listening

    settings = settings_with()
    if stop:
        stopped = stack.stop_detached(settings)
        typer.echo("orderflow server stopped" if stopped else "no detached server recorded")
        return
    if is_listening(settings.temporal_address):
        typer.echo(f"a Temporal server already answers on {settings.temporal_address}")
        typer.echo(f"Web UI: {settings.ui_url}")
        if detach:
            return
        raise typer.Exit(Exit.TEMPORAL_DOWN)
    typer.echo(f"Temporal dev server on {settings.temporal_address}; UI {settings.ui_url}")
    typer.echo(f"State persisted in {settings.temporal_db}.")
    if detach:
        try:
            stack.check_ports(settings)
            stack.start_detached(settings)
        except DevServerError as err:
            fail(str(err), Exit.TEMPORAL_DOWN)
        typer.echo("Running in the background; `orderflow server --stop` stops it.")
        return
    typer.echo("Ctrl-C stops it.")

    async def main() -> int:
        try:
            return await stack.serve(settings, say)
        except DevServerError as err:
            fail(str(err), Exit.TEMPORAL_DOWN)

    run_async(main)
