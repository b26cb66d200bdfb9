"""The bench's own Temporal dev servers: loopback, free ports, a private data directory.

Never the demo's 7233/8233: the ports are picked free by the kernel, and the server's
state lives under the bench's work directory, so a running demo server is untouched.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

from pydantic import SecretStr

from orderflow.config import Settings
from orderflow.temporal.devserver import DevServer, dev_server_command, wait_for_namespace

#: Ports the demo and the docs use; a free port is never one of these, but say so.
_RESERVED = {7233, 8233}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _RESERVED:
            return port


def bench_settings(base: Settings, data_dir: Path) -> Settings:
    """``base`` pointed at a fresh loopback address and UI port and at ``data_dir``.

    The payload keys are pinned (the server's data directory's key, spelled out), so every
    variant's workers, whatever data directory they get, read what this client writes.
    """
    moved = base.model_copy(
        update={
            "data_dir": data_dir,
            "temporal_address": f"127.0.0.1:{free_port()}",
            "ui_port": free_port(),
            "database_url": "",
        }
    )
    return moved.model_copy(update={"encryption_keys": SecretStr(moved.keys())})


def memory_command(settings: Settings) -> list[str]:
    """The embedded server's command line without persistence (no --db-filename, no pragmas)."""
    command = dev_server_command(settings)
    kept: list[str] = []
    skip = False
    for arg in command:
        if skip:
            skip = False
            continue
        if arg in ("--db-filename", "--sqlite-pragma"):
            skip = True
            continue
        kept.append(arg)
    return kept


def launch(
    settings: Settings, *, in_memory: bool = False, extra_args: Sequence[str] = ()
) -> DevServer:
    """Start a dev server and wait until its port answers (blocking).

    SQLite-persisted with orderflow's pragmas (``dev_server_command``, exactly what
    ``orderflow server`` runs), or in memory; ``extra_args`` are appended.
    """
    server = DevServer(settings)
    command = memory_command(settings) if in_memory else dev_server_command(settings)
    with open(settings.data_dir / "temporal-server.log", "ab") as log_file:
        server.process = subprocess.Popen(
            [*command, *extra_args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server


async def start_server(
    settings: Settings, *, in_memory: bool = False, extra_args: Sequence[str] = ()
) -> DevServer:
    """``launch`` off the event loop, then wait for the namespace. The caller stops it."""
    server = await asyncio.to_thread(launch, settings, in_memory=in_memory, extra_args=extra_args)
    try:
        await wait_for_namespace(settings)
    except BaseException:
        server.stop()
        raise
    return server


def server_pid(server: DevServer) -> int:
    """The server's process id (it must be running)."""
    assert server.process is not None
    return server.process.pid
