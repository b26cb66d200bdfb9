"""The stderr filter: the SDK core's shutdown panic is dropped, every other byte passes."""

from __future__ import annotations

import subprocess
import sys

PANIC = (
    b"thread 'tokio-runtime-worker' panicked at /root/.cargo/registry/src/temporalio-sdk-core/"
    b"src/worker/activities/local_activities.rs:1042:43:\n"
    b"receive half not dropped: SendError { .. }\n"
    b"stack backtrace:\n"
    b"   0: __rustc::rust_begin_unwind\n"
    b"   1: core::panicking::panic_fmt\n"
    b"             at /rustc/library/core/src/panicking.rs:75:14\n"
    b"note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\n"
)

SCRIPT = """
import os, sys
from orderflow.logs import flush_stderr, quiet_core_panics, sync_stderr
quiet_core_panics()
sys.stderr.write("before\\n")
sys.stderr.flush()
os.write(2, {panic!r})
os.write(2, b"thread 'main' panicked at src/other.rs:1:1:\\nsomething real\\n")
os.write(2, b"a partial line, then")
sync_stderr()
sys.stdout.write("stdout after the sync\\n")
sys.stdout.flush()
sys.stderr.write(" the rest\\n")
flush_stderr()
os._exit(0)
"""


def test_the_core_s_shutdown_panic_is_dropped_and_everything_else_passes() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(panic=PANIC)],
        capture_output=True,
        timeout=30,
        check=False,
    )

    assert proc.returncode == 0
    assert proc.stderr == (
        b"before\n"
        b"thread 'main' panicked at src/other.rs:1:1:\nsomething real\n"
        b"a partial line, then the rest\n"
    )
    assert proc.stdout == b"stdout after the sync\n"
