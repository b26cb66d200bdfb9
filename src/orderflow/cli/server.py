"""The embedded dev stack: ``orderflow server [--detach|--stop] [--no-console] [--no-worker]``."""

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
    console: Annotated[
        bool,
        typer.Option(
            "--console/--no-console",
            help="Run the API and the operator console on ORDERFLOW_API_PORT (default 8000).",
        ),
    ] = True,
    worker: Annotated[
        bool,
        typer.Option("--worker/--no-worker", help="Run a worker on ORDERFLOW_TASK_QUEUE."),
    ] = True,
) -> None:
    """Run the dev stack: the embedded Temporal server (SQLite-persisted, 127.0.0.1, Web UI
    on 8233), a worker, and the API with the operator console (http://127.0.0.1:8000/).

    Beside them, on 127.0.0.1 only, the codec the Web UI shows payloads in clear with (they
    are encrypted in Temporal). Without ORDERFLOW_API_KEYS the console's key is made in the
    data directory (api.key). Exit status 6 when it cannot start.
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
        if is_listening(f"127.0.0.1:{settings.api_port}"):
            typer.echo(f"Console: {settings.console_url} — {stack.sign_in_hint(settings)}")
        if detach:
            return
        raise typer.Exit(Exit.TEMPORAL_DOWN)
    typer.echo(f"Temporal dev server on {settings.temporal_address}; Web UI {settings.ui_url}")
    typer.echo(f"State persisted in {settings.temporal_db}.")
    if worker:
        typer.echo(f"A worker on task queue {settings.task_queue!r}.")
    if console:
        typer.echo(f"Console: {settings.console_url} — {stack.sign_in_hint(settings)}")
    if detach:
        flags = [*([] if console else ["--no-console"]), *([] if worker else ["--no-worker"])]
        try:
            stack.check_ports(settings, console=console)
            stack.start_detached(settings, flags)
        except DevServerError as err:
            fail(str(err), Exit.TEMPORAL_DOWN)
        typer.echo("Running in the background; `orderflow server --stop` stops it.")
        return
    typer.echo("Ctrl-C stops it.")

    async def main() -> int:
        try:
            return await stack.serve(settings, say, console=console, worker=worker)
        except DevServerError as err:
            fail(str(err), Exit.TEMPORAL_DOWN)

    run_async(main)
