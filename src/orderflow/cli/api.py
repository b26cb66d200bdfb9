"""``orderflow api``: serve the REST API with uvicorn (register with ``app.command()(api)``)."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from typing import Annotated

import typer

from orderflow.cli.common import run_async, settings_with, setup_logging

log = logging.getLogger("orderflow.api")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: addresses only this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api(
    host: Annotated[
        str | None,
        typer.Option(help="Address to bind (default 127.0.0.1; ORDERFLOW_API_HOST)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help="Port to listen on (default 8000; ORDERFLOW_API_PORT)."
        ),
    ] = None,
    task_queue: Annotated[
        str | None, typer.Option(help="Task queue the workers poll (ORDERFLOW_TASK_QUEUE).")
    ] = None,
    insecure_no_auth: Annotated[
        bool,
        typer.Option(
            "--insecure-no-auth",
            help="Serve without API keys. Local development only: refused unless the "
            "address is a loopback one.",
        ),
    ] = False,
) -> None:
    """Serve the REST API (OpenAPI at /docs); clients send Authorization: Bearer <key>.

    Keys come from ORDERFLOW_API_KEYS (comma-separated, each at least 16 characters);
    without any the command refuses to start unless --insecure-no-auth is given. It needs
    Temporal (TEMPORAL_ADDRESS) and the database; workers run separately (orderflow worker).
    """
    import uvicorn

    from orderflow.api import create_app
    from orderflow.api.auth import ApiConfigError

    settings = settings_with(api_host=host, api_port=port, task_queue=task_queue)
    if insecure_no_auth and not is_loopback(settings.api_host):
        typer.echo(
            f"error: --insecure-no-auth is only allowed on a loopback address, "
            f"not {settings.api_host}",
            err=True,
        )
        raise typer.Exit(2)
    try:
        app = create_app(settings, insecure_no_auth=insecure_no_auth)
    except ApiConfigError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err
    setup_logging()  # after the checks: a refused start needs no logging set up
    if not is_loopback(settings.api_host):
        log.warning(
            "listening on %s: API keys travel in clear text unless TLS terminates in front",
            settings.api_host,
        )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.api_host,
            port=settings.api_port,
            log_config=None,  # keep orderflow's logging (text or JSON)
            server_header=False,
            lifespan="on",
        )
    )
    typer.echo(f"orderflow API on http://{settings.api_host}:{settings.api_port} (docs: /docs)")

    async def main() -> int:
        with contextlib.suppress(SystemExit):  # uvicorn's way to say start-up failed
            await server.serve()
        if not server.started:
            typer.echo("error: the API could not start (Temporal or the database)", err=True)
            return 1
        return 0

    run_async(main)
