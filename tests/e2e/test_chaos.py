"""`orderflow chaos`: a small crash campaign through the CLI, as CI runs it.

Worker processes are SIGKILLed and restarted, the SQLite-persisted Temporal server is
SIGKILLed and restarted mid-run; every order must still reach a final state with a
clean audit, and the command must leave no process of its own behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ORDERFLOW = Path(sys.executable).parent / "orderflow"
ORDERS = 60
FIGURES = (
    "orders",
    "worker_kills",
    "server_restarts",
    "completed",
    "failed",
    "compensated",
    "needs_attention",
    "duplicate_charges",
    "orphaned",
    "oversold_units",
    "lost",
)


def run_chaos(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``orderflow chaos`` with its data under ``data_dir`` (it picks its own ports)."""
    env = {**os.environ, "ORDERFLOW_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [str(ORDERFLOW), "chaos", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )


def processes_under(path: Path) -> list[str]:
    """Live processes started for ``path``: the server names it on its command line, the
    workers write their stdout and stderr into it."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            outputs = [os.readlink(proc / "fd" / str(fd)) for fd in (1, 2)]
        except OSError:  # gone meanwhile, a kernel thread, or not ours to inspect
            continue
        if str(path) in cmdline or any(out.startswith(str(path)) for out in outputs):
            found.append(cmdline)
    return found


@pytest.mark.e2e
def test_a_crash_campaign_loses_nothing_and_leaves_a_clean_audit(data_dir: Path) -> None:
    proc = run_chaos(
        data_dir,
        "--orders",
        str(ORDERS),
        "--kill-every",
        "1.5",
        "--server-restarts",
        "1",
        "--seed",
        "11",
        "--json",
    )

    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in FIGURES:
        assert isinstance(figures[key], int), key
    assert isinstance(figures["seconds"], float)
    assert figures["orders"] == ORDERS
    assert figures["worker_kills"] >= 2
    assert figures["server_restarts"] == 1
    assert figures["lost"] == 0
    assert figures["duplicate_charges"] == 0
    assert figures["orphaned"] == 0
    assert figures["oversold_units"] == 0
    assert figures["audit"]["ok"] is True, figures["audit"]["violations"]
    assert figures["audit"]["violations"] == []
    assert (
        figures["completed"] + figures["failed"] + figures["needs_attention"] + figures["refused"]
        == ORDERS
    )
    assert figures["refused"] > 0  # the batch's invalid orders never start
    assert figures["completed"] > 0 and figures["failed"] > 0  # the batch fails on purpose
    assert "worker kills survived" in proc.stdout  # the human table precedes the JSON line
    assert "SIGKILL Temporal server" in proc.stdout
    campaign_dir = Path(figures["data_dir"])
    assert campaign_dir.parent == data_dir and (campaign_dir / "temporal.db").exists()
    assert processes_under(campaign_dir) == []  # the server and workers were all stopped


@pytest.mark.e2e
def test_a_hostile_fault_campaign_under_crashes_loses_nothing_and_leaves_a_clean_audit(
    data_dir: Path,
) -> None:
    """--hostile: every service fails half its calls, half of those after acting, and 5% of
    calls hang past the attempt timeout, while workers and the server are killed."""
    proc = run_chaos(
        data_dir,
        "--hostile",
        "--orders",
        "40",
        "--kill-every",
        "1.5",
        "--server-restarts",
        "1",
        "--seed",
        "5",
        "--json",
    )

    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["orders"] == 40
    assert figures["retries"] > figures["orders"]  # the world really was hostile
    assert figures["worker_kills"] >= 2 and figures["server_restarts"] == 1
    for key in ("lost", "duplicate_charges", "orphaned", "oversold_units", "needs_attention"):
        assert figures[key] == 0, (key, figures)
    assert figures["audit"]["ok"] is True, figures["audit"]["violations"]
    assert figures["completed"] + figures["failed"] + figures["refused"] == 40
    assert processes_under(Path(figures["data_dir"])) == []
