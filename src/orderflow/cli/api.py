"""``orderflow api``: serve the REST API with uvicorn (register with ``app.command()(api)``)."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import socket
from typing import Annotated

import typer

from orderflow.cli.common import Exit, fail, run_async, settings_with, setup_logging

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
        fail(
            "refused: --insecure-no-auth is only allowed on a loopback address, "
            f"not {settings.api_host}",
            Exit.REFUSED,
        )
    try:
        create_app(settings, insecure_no_auth=insecure_no_auth)  # checks the keys
    except ApiConfigError as err:
        fail(f"refused: {err}", Exit.REFUSED)
    problem = port_problem(settings.api_host, settings.api_port)
    if problem:
        fail(f"refused: {problem} (give --port, or set ORDERFLOW_API_PORT)", Exit.REFUSED)
    setup_logging()  # after the checks: a refused start needs no logging set up
    # The console's pages poll their live regions every few seconds: not worth a line each.
    logging.getLogger("uvicorn.access").addFilter(
        lambda record: "part=live" not in record.getMessage()
    )
    if not is_loopback(settings.api_host):
        log.warning(
            "listening on %s: API keys travel in clear text unless TLS terminates in front",
            settings.api_host,
        )

    async def main() -> int:
        from orderflow.bootstrap import connected_service

        async with connected_service(settings) as service:
            app = create_app(settings, service, insecure_no_auth=insecure_no_auth)
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
            typer.echo(
                f"orderflow API on http://{settings.api_host}:{settings.api_port} (docs: /docs)"
            )
            with contextlib.suppress(SystemExit):  # uvicorn's way to say start-up failed
                await server.serve()
        if not server.started:
            fail(
                f"the API could not listen on {settings.api_host}:{settings.api_port} "
                "(see the log above)",
                Exit.REFUSED,
            )
        return Exit.OK

    run_async(main)


def port_problem(host: str, port: int) -> str:
    """Why ``host:port`` cannot be listened on ("" when it can)."""
    if port == 0:
        return ""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is in use"
            return f"cannot listen on {host}:{port} ({err.strerror})"
    return ""
