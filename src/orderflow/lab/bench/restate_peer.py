"""The other durable-execution engine a user compares: orderflow's order on Restate.

The same workload as orderflow's order and the DBOS peer's (``order_steps``): validate,
authorize, allocate, per parcel reserve, quote, book and capture, and record the outcome,
each a ``ctx.run`` step of a Restate workflow (journaled by the Restate server before the
next runs), its store calls off the event loop; the total and each parcel's share are
computed inline, as orderflow computes them in workflow code. No injected faults.

The server is the ``restate-server`` binary of the npm package ``@restatedev/restate-server``
(``make bench-peers`` installs it into ``.tools/restate``; ``RESTATE_SERVER_BIN`` names
another), started per measurement on free loopback ports with a fresh base directory
(RocksDB, fsync on: its defaults). The service is this module run as a process
(``python -m orderflow.lab.bench.restate_peer --port P --database URL``): the Python SDK
(PyPI ``restate-sdk``) behind hypercorn, HTTP/2 on 127.0.0.1, registered with the server's
admin API. The bench calls each workflow through the server's HTTP ingress and waits for
its result. CPU per workflow: the server's and the service's processes, plus this one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orderflow.domain.models import (
    AuthorizationReceipt,
    Order,
    PricedLine,
    ShippingQuote,
    ValidatedOrder,
)

#: Where ``make bench-peers`` installs the server (relative to the repository).
BUNDLED = Path(".tools/restate/node_modules/.bin/restate-server")
WORKFLOW = "BenchOrder"


def server_binary() -> Path | None:
    """The restate-server binary: RESTATE_SERVER_BIN, the bundled one, or on PATH.

    The npm package's ``.bin/restate-server`` is a node script that starts the platform
    binary shipped beside it; the binary itself is run, so its CPU is the server's.
    """
    named = os.environ.get("RESTATE_SERVER_BIN")
    if named:
        return Path(named) if Path(named).exists() else None
    repo = Path(__file__).resolve().parents[4]
    for root in (repo, Path.cwd()):
        modules = root / BUNDLED.parent.parent
        for platform in sorted(modules.glob("@restatedev/restate-server-*/bin/restate-server")):
            return platform
        if (root / BUNDLED).exists():
            return root / BUNDLED
    found = shutil.which("restate-server")
    return Path(found) if found else None


def restate_missing() -> str | None:
    """Why the Restate peer cannot run here (None: it can)."""
    try:
        import hypercorn  # noqa: F401
        import restate  # noqa: F401
    except ImportError:
        return (
            "the restate-sdk and hypercorn packages are not installed: install the optional "
            "'bench' dependency group (uv sync --group bench)"
        )
    if server_binary() is None:
        return (
            "no restate-server binary: `make bench-peers` installs the npm package "
            "@restatedev/restate-server into .tools/restate (or set RESTATE_SERVER_BIN)"
        )
    return None


# -- the service (runs in its own process) ----------------------------------------------------


def build_app(database_url: str) -> Any:
    """The Restate workflow over the store at ``database_url``, as an ASGI app."""
    import restate

    from orderflow.domain.pricing import price_order
    from orderflow.lab.bench.order_steps import OrderSteps, shares
    from orderflow.store import Store, make_engine

    steps = OrderSteps.over(Store(make_engine(database_url)))
    flow = restate.Workflow(WORKFLOW)

    def dumped(value: Any) -> dict[str, Any]:
        return dict(value.model_dump(mode="json"))

    # (The SDK evaluates each step's annotations in this module's globals: the models are
    # imported at module level for that.)
    @flow.main()
    async def run(ctx: Any, raw: dict[str, Any]) -> str:
        order = Order.model_validate(raw)

        async def validate() -> dict[str, Any]:
            return dumped(await asyncio.to_thread(steps.validate, order))

        validated = ValidatedOrder.model_validate(await ctx.run("validate", validate))
        total = price_order(validated.lines, order.service_level).total

        async def authorize() -> dict[str, Any]:
            return dumped(
                await asyncio.to_thread(steps.authorize, order.order_id, total, order.payment_token)
            )

        hold = AuthorizationReceipt.model_validate(await ctx.run("authorize", authorize))

        async def allocate() -> dict[str, Any]:
            plan = await asyncio.to_thread(steps.allocate, validated.lines)
            return {w: [dumped(line) for line in lines] for w, lines in plan.items()}

        parcels = {
            warehouse: [PricedLine.model_validate(line) for line in lines]
            for warehouse, lines in (await ctx.run("allocate", allocate)).items()
        }
        share = shares(total, parcels)
        quotes: dict[str, ShippingQuote] = {}
        for warehouse, lines in parcels.items():

            async def reserve(lines: list[PricedLine] = lines, warehouse: str = warehouse) -> int:
                held = await asyncio.to_thread(steps.reserve, order.order_id, lines, warehouse)
                return sum(line.quantity for line in held.lines)

            await ctx.run(f"reserve {warehouse}", reserve)
        for warehouse, lines in parcels.items():

            async def quote(
                lines: list[PricedLine] = lines, warehouse: str = warehouse
            ) -> dict[str, Any]:
                return dumped(await asyncio.to_thread(steps.quote, order, lines, warehouse))

            quotes[warehouse] = ShippingQuote.model_validate(
                await ctx.run(f"quote {warehouse}", quote)
            )
        tracking: list[str] = []
        for warehouse, quoted in quotes.items():

            async def book(quoted: ShippingQuote = quoted) -> str:
                return (await asyncio.to_thread(steps.book, quoted)).tracking_number

            async def capture(warehouse: str = warehouse) -> str:
                taken = await asyncio.to_thread(
                    steps.capture, order.order_id, hold.reference, share[warehouse], warehouse
                )
                return taken.reference

            tracking.append(await ctx.run(f"book {warehouse}", book))
            await ctx.run(f"capture {warehouse}", capture)

        async def finish() -> bool:
            await asyncio.to_thread(steps.finish, order.order_id, total)
            return True

        await ctx.run("record outcome", finish)
        return tracking[0]

    return restate.app(services=[flow])


def serve(port: int, database_url: str) -> None:
    """Serve the workflow on 127.0.0.1:``port`` (HTTP/2 cleartext) until SIGTERM."""
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.h2_max_concurrent_streams = 1000
    config.loglevel = "WARNING"
    stop = asyncio.Event()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await hypercorn_serve(build_app(database_url), config, shutdown_trigger=stop.wait)

    asyncio.run(main())


# -- the bench's side --------------------------------------------------------------------------


@dataclass
class RestateStack:
    """A running Restate server and service: where to call, and the pids to clock."""

    ingress: str
    server_pid: int
    service_pid: int


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _until(probe: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not await probe():
        if time.monotonic() > deadline:
            raise RuntimeError(f"Restate peer: {what} did not come up within {timeout:g} s")
        await asyncio.sleep(0.1)


@dataclass
class _Processes:
    server: subprocess.Popen[bytes]
    service: subprocess.Popen[bytes]
    ingress: int
    admin: int
    service_port: int
    logs: list[Any]

    def stop(self) -> None:
        for process in (self.service, self.server):
            process.terminate()
        for process in (self.service, self.server):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.logs:
            log.close()


def _spawn(work_dir: Path, binary: Path, database_url: str) -> _Processes:
    """Start the server and the service on free loopback ports (not waited for)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    ingress, admin, node, service = (_free_port() for _ in range(4))
    env = {
        **os.environ,
        "RESTATE_BIND_IP": "127.0.0.1",
        "RESTATE_BIND_PORT": str(node),
        "RESTATE_INGRESS__BIND_PORT": str(ingress),
        "RESTATE_ADMIN__BIND_PORT": str(admin),
        "RESTATE_LISTEN_MODE": "tcp",
        "RESTATE_DISABLE_TELEMETRY": "true",
        "RESTATE_LOG_FILTER": "error",
    }
    server_log = (work_dir / "restate-server.log").open("wb")
    service_log = (work_dir / "restate-service.log").open("wb")
    server = subprocess.Popen(
        [str(binary), "--base-dir", str(work_dir / "restate-data"), "--no-logo"],
        env=env,
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    command = [sys.executable, "-m", "orderflow.lab.bench.restate_peer"]
    command += ["--port", str(service), "--database", database_url]
    worker = subprocess.Popen(command, stdout=service_log, stderr=subprocess.STDOUT)
    return _Processes(server, worker, ingress, admin, service, [server_log, service_log])


@asynccontextmanager
async def restate_stack(work_dir: Path, database_url: str) -> AsyncIterator[RestateStack]:
    """Start the server and the service, register the service; stop both afterwards."""
    import httpx

    binary = server_binary()
    if binary is None:
        raise RuntimeError(restate_missing() or "no restate-server")
    procs = await asyncio.to_thread(_spawn, work_dir, binary, database_url)
    try:
        async with httpx.AsyncClient(timeout=5) as http:

            async def up(url: str) -> bool:
                try:
                    await http.get(url)
                    return True
                except httpx.TransportError:
                    return False

            async def admin_up() -> bool:
                return await up(f"http://127.0.0.1:{procs.admin}/health")

            async def service_up() -> bool:
                return await up(f"http://127.0.0.1:{procs.service_port}/health")

            await _until(admin_up, "the restate server")
            await _until(service_up, "the Python service")
            registered = await http.post(
                f"http://127.0.0.1:{procs.admin}/deployments",
                json={"uri": f"http://127.0.0.1:{procs.service_port}"},
                timeout=30,
            )
            if registered.status_code >= 300:
                raise RuntimeError(f"Restate peer: registration refused: {registered.text[:300]}")
        yield RestateStack(
            ingress=f"http://127.0.0.1:{procs.ingress}",
            server_pid=procs.server.pid,
            service_pid=procs.service.pid,
        )
    finally:
        await asyncio.to_thread(procs.stop)


def order_bodies(orders: Sequence[Any]) -> list[tuple[str, dict[str, Any]]]:
    """(order id, JSON body) per order."""
    return [(order.order_id, order.model_dump(mode="json")) for order in orders]


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m orderflow.lab.bench.restate_peer --port P --database URL``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", required=True)
    args = parser.parse_args(argv)
    serve(args.port, args.database)


if __name__ == "__main__":
    main()
