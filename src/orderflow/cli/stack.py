"""What ``orderflow server`` runs: the embedded Temporal dev server and the codec its Web UI
decodes payloads with, as one process (in the foreground, or detached for ``make demo``).

Detached, the supervisor is this same command started in its own session; its pid is kept
in the data directory so ``orderflow server --stop`` can stop it (and it stops the rest).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from orderflow.config import Settings
from orderflow.temporal.devserver import DevServer, DevServerError, is_listening

#: The supervisor logs this once everything answers; ``--detach`` waits for it.
READY = "orderflow server ready"
#: How long ``--detach`` waits for the supervisor to be ready.
START_TIMEOUT_S = 60.0


def pid_file(settings: Settings) -> Path:
    """Where a detached supervisor's process id is kept."""
    return settings.data_dir / "server.pid"


def log_file(settings: Settings) -> Path:
    """Where a detached supervisor writes what it says."""
    return settings.data_dir / "server.log"


def check_ports(settings: Settings) -> None:
    """Refuse to start when a port the stack needs is taken, naming it and its setting.

    Raises:
        DevServerError: the Web UI's or the codec's port is in use.
    """
    for port, setting in (
        (settings.ui_port, "ORDERFLOW_UI_PORT"),
        (settings.ui_codec_port, "ORDERFLOW_UI_CODEC_PORT"),
    ):
        if is_listening(f"127.0.0.1:{port}"):
            raise DevServerError(f"port {port} on 127.0.0.1 is in use (set {setting})")


async def serve(settings: Settings, say: Callable[[str], None]) -> int:
    """Run the stack until SIGINT/SIGTERM or until the Temporal server dies."""
    import uvicorn

    from orderflow.temporal.client import converter_for
    from orderflow.temporal.uicodec import codec_app

    check_ports(settings)
    codec = converter_for(settings).payload_codec
    dev = DevServer(settings, codec_endpoint=settings.codec_url if codec else "")
    await asyncio.to_thread(dev.start)
    servers: list[uvicorn.Server] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        if codec is not None and not settings.ui_codec_endpoint:
            server = uvicorn.Server(
                uvicorn.Config(
                    codec_app(codec, settings.ui_origins),
                    host="127.0.0.1",
                    port=settings.ui_codec_port,
                    log_config=None,
                    log_level="warning",
                    lifespan="off",
                )
            )
            servers.append(server)
            tasks.append(asyncio.create_task(server.serve()))
            while not server.started:
                if tasks[-1].done():
                    raise DevServerError(f"the UI codec could not start on {settings.codec_url}")
                await asyncio.sleep(0.05)
        say(f"{READY}: Temporal on {settings.temporal_address}, Web UI {settings.ui_url}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        while not stop.is_set():
            if dev.process is not None and dev.process.poll() is not None:
                say(f"the Temporal server exited ({dev.process.returncode}); stopping")
                return 1
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
        return 0
    finally:
        for server in servers:
            server.should_exit = True
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        await asyncio.to_thread(dev.stop)


def start_detached(settings: Settings) -> int:
    """Start the supervisor in its own session; wait until it is ready; its pid.

    Raises:
        DevServerError: it exited or did not get ready in time (with the end of its log).
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log = log_file(settings)
    offset = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "orderflow", "server"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pid_file(settings).write_text(str(child.pid))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        with log.open("rb") as handle:
            handle.seek(offset)
            said = handle.read().decode(errors="replace")
        if READY in said:
            return child.pid
        if child.poll() is not None:
            pid_file(settings).unlink(missing_ok=True)
            raise DevServerError(f"the server did not start:\n{said.strip()[-1500:]}")
        time.sleep(0.1)
    child.terminate()
    raise DevServerError(f"the server was not ready after {START_TIMEOUT_S:.0f}s; see {log}")


def stop_detached(settings: Settings) -> bool:
    """Stop a detached supervisor (or, from older versions, a detached Temporal server);
    False if none was recorded."""
    for path in (pid_file(settings), settings.data_dir / "temporal.pid"):
        if not path.exists():
            continue
        try:
            pid = int(path.read_text().strip() or 0)
        except ValueError:
            pid = 0
        path.unlink()
        if pid and _terminate(pid):
            return True
    return False


def _terminate(pid: int, timeout: float = 20.0) -> bool:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True
