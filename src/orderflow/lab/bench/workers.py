"""`orderflow worker` processes for the bench: started, ready, stopped — and never leaked."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from orderflow.worker import READY_LINE

READY_MARKER = READY_LINE.encode()

#: How long a worker may take to log that it polls before the bench gives up on it.
READY_TIMEOUT_S = 90.0


@asynccontextmanager
async def worker_processes(
    count: int, env: Mapping[str, str], log_dir: Path
) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """``count`` workers, each logging to ``log_dir/worker-N.log`` (``log_dir`` exists);
    yields once all poll.

    A worker that exits or stays silent past READY_TIMEOUT_S fails the block with the end
    of its log. Every worker started is terminated (killed if it must be) on the way out.
    """
    procs: list[asyncio.subprocess.Process] = []
    logs = [log_dir / f"worker-{index}.log" for index in range(count)]
    try:
        for log in logs:
            with log.open("wb") as out:
                procs.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "orderflow",
                        "worker",
                        env=dict(env),
                        stdin=asyncio.subprocess.DEVNULL,
                        stdout=out,
                        stderr=out,
                    )
                )
        await _wait_ready(procs, logs)
        yield procs
    finally:
        await _stop(procs)


async def _wait_ready(procs: list[asyncio.subprocess.Process], logs: list[Path]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    waiting = set(range(len(procs)))
    while waiting:
        for index in list(waiting):
            text = logs[index].read_bytes()
            if READY_MARKER in text:
                waiting.discard(index)
            elif procs[index].returncode is not None or time.monotonic() > deadline:
                tail = text.decode(errors="replace")[-2000:]
                raise RuntimeError(f"bench worker {index} did not start polling:\n{tail}")
        if waiting:
            await asyncio.sleep(0.05)


async def _stop(procs: list[asyncio.subprocess.Process]) -> None:
    for proc in procs:
        if proc.returncode is None:
            proc.terminate()
    for proc in procs:
        try:
            await asyncio.wait_for(proc.wait(), timeout=30)
        except asyncio.TimeoutError:  # pragma: no cover - a stuck worker
            proc.kill()
            await proc.wait()
