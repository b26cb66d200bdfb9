"""What ``orderflow server`` runs: the embedded Temporal dev server, the codec its Web UI
decodes payloads with, a worker, and the API with the operator console, under one
supervisor (in the foreground, or detached for ``make demo``). The worker and the API are
child processes (``orderflow worker``, ``orderflow api``), restarted if they die.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from orderflow.config import API_KEY_FILE, Settings, local_api_key
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


def check_ports(settings: Settings, *, console: bool = True) -> None:
    """Refuse to start when a port the stack needs is taken, naming it and its setting.

    Raises:
        DevServerError: the Web UI's, the codec's or the console's port is in use.
    """
    ports = [
        (settings.ui_port, "ORDERFLOW_UI_PORT"),
        (settings.ui_codec_port, "ORDERFLOW_UI_CODEC_PORT"),
    ]
    if console:
        ports.append((settings.api_port, "ORDERFLOW_API_PORT; or --no-console"))
    for port, setting in ports:
        if is_listening(f"127.0.0.1:{port}"):
            raise DevServerError(f"port {port} on 127.0.0.1 is in use (set {setting})")


def stack_env(settings: Settings) -> dict[str, str]:
    """The environment of the stack's worker and API: these settings, and an API key (the
    data directory's own, made on first use) when ORDERFLOW_API_KEYS names none."""
    env = settings.child_env(os.environ)
    if not settings.api_keys.get_secret_value().strip():
        env["ORDERFLOW_API_KEYS"] = local_api_key(settings.data_dir)
    env["ORDERFLOW_API_HOST"] = "127.0.0.1"
    return env


def sign_in_hint(settings: Settings) -> str:
    """How to sign in to the stack's console (never the key itself)."""
    if settings.api_keys.get_secret_value().strip():
        return "sign in with one of ORDERFLOW_API_KEYS"
    path = settings.data_dir / API_KEY_FILE
    return f"sign in with the key in {path}"


@dataclass
class Child:
    """A process of the stack (``orderflow worker``, ``orderflow api``), restarted if it
    dies, at most MAX_RESTARTS times."""

    name: str
    command: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orderflow", *self.command],
            env=self.env,
            stdin=subprocess.DEVNULL,
        )

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


#: How often the stack restarts a child that died before it gives up on it.
MAX_RESTARTS = 5


async def _healthy(settings: Settings, child: Child, timeout: float = 60.0) -> None:
    """Wait until the API answers /healthz (or its process exits)."""
    import urllib.error
    import urllib.request

    url = f"http://127.0.0.1:{settings.api_port}/healthz"

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return bool(answer.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(probe):
        if child.process is not None and child.process.poll() is not None:
            raise DevServerError(f"the console (orderflow api) exited ({child.process.returncode})")
        if time.monotonic() > deadline:
            raise DevServerError(f"the console did not answer on {url} within {timeout:.0f}s")
        await asyncio.sleep(0.2)


async def serve(
    settings: Settings, say: Callable[[str], None], *, console: bool = True, worker: bool = True
) -> int:
    """Run the stack until SIGINT/SIGTERM or until the Temporal server dies."""
    import uvicorn

    from orderflow.temporal.client import converter_for
    from orderflow.temporal.uicodec import codec_app

    check_ports(settings, console=console)
    # From here on a SIGTERM or Ctrl-C stops the whole stack cleanly (even while starting).
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    codec = converter_for(settings).payload_codec
    dev = DevServer(settings, codec_endpoint=settings.codec_url if codec else "")
    await asyncio.to_thread(dev.start)
    servers: list[uvicorn.Server] = []
    tasks: list[asyncio.Task[None]] = []
    children: list[Child] = []
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
        env = stack_env(settings)
        if worker:
            children.append(Child("worker", ["worker"], env))
        if console:
            children.append(Child("console", ["api"], env))
        for child in children:
            child.start()
        if console:
            await _healthy(settings, children[-1])
        said = f"{READY}: Temporal on {settings.temporal_address}, Web UI {settings.ui_url}"
        if console:
            said += f", console {settings.console_url}"
        say(said)
        while not stop.is_set():
            if dev.process is not None and dev.process.poll() is not None:
                say(f"the Temporal server exited ({dev.process.returncode}); stopping")
                return 1
            for child in children:
                _revive(child, say)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
        return 0
    finally:
        for child in reversed(children):
            await asyncio.to_thread(child.stop)
        for server in servers:
            server.should_exit = True
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        await asyncio.to_thread(dev.stop)


def _revive(child: Child, say: Callable[[str], None]) -> None:
    """Restart ``child`` if it exited (up to MAX_RESTARTS times)."""
    if child.process is None or child.process.poll() is None:
        return
    code = child.process.returncode
    if child.restarts >= MAX_RESTARTS:
        if child.restarts == MAX_RESTARTS:
            say(f"the {child.name} exited ({code}) {MAX_RESTARTS} times; no more restarts")
            child.restarts += 1
        return
    child.restarts += 1
    say(f"the {child.name} exited ({code}); restarting it ({child.restarts} of {MAX_RESTARTS})")
    child.start()


def start_detached(settings: Settings, flags: Sequence[str] = ()) -> int:
    """Start the supervisor in its own session; wait until it is ready; its pid.

    Raises:
        DevServerError: it exited or did not get ready in time (with the end of its log).
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log = log_file(settings)
    offset = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "orderflow", "server", *flags],
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
