"""Long runs show live progress on a terminal and plain lines otherwise (the real CLI)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.e2e.cli import ORDERFLOW, Shop

pytestmark = pytest.mark.e2e

DEMO = ("demo", "--orders", "8", "--seed", "4", "--payment-failure-rate", "0")


def shop_env(temporal_env: WorkflowEnvironment, tmp_path: Path) -> dict[str, str]:
    shop = Shop(
        data_dir=tmp_path / "data",
        temporal_address=temporal_env.client.service_client.config.target_host,
        task_queue="progress",
    )
    return shop.env(COLUMNS="100", TERM="xterm-256color")


def run_in_a_terminal(args: tuple[str, ...], env: dict[str, str], timeout: float = 120) -> str:
    """Run the command with a pseudo-terminal as its stdout and stderr; all it wrote."""
    leader, follower = pty.openpty()
    # A terminal of 40 x 100 (a bare pty has no size, and gets plain lines).
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    proc = subprocess.Popen(
        [str(ORDERFLOW), *args], env=env, stdout=follower, stderr=follower, stdin=subprocess.DEVNULL
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the follower side closed: the process is done
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(leader)
    assert proc.returncode == 0, seen.decode(errors="replace")[-3000:]
    return seen.decode(errors="replace")


def test_the_demo_shows_a_live_bar_on_a_terminal_and_plain_lines_otherwise(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    env = shop_env(temporal_env, tmp_path)
    on_a_terminal = run_in_a_terminal(DEMO, env)
    piped = subprocess.run(
        [str(ORDERFLOW), *DEMO], env=env, capture_output=True, text=True, timeout=120
    )

    assert "━" in on_a_terminal  # the bar
    assert "completed" in on_a_terminal and "demo summary" in on_a_terminal
    assert piped.returncode == 0, piped.stderr[-2000:]
    assert "━" not in piped.stdout + piped.stderr and "\x1b[" not in piped.stdout
    assert "progress 8/8:" in piped.stdout + piped.stderr
