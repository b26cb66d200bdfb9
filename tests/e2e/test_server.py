"""``orderflow server`` and ``orderflow demo`` as a newcomer runs them: the real processes.

The server is a supervisor (the Temporal dev server plus the codec its Web UI decodes
with, loopback only); the demo always runs a worker of its own on a queue of its own, so
a stale or dead worker elsewhere cannot stall it and its fault flags are the ones in force.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from orderflow.config import Settings
from orderflow.temporal.client import converter_for
from tests.e2e.cli import ORDERFLOW, an_order, assert_clean_failure, free_port

pytestmark = pytest.mark.e2e


def stack_env(data_dir: Path) -> dict[str, str]:
    """A stack of its own: data directory and free loopback ports (never 7233/8233)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ORDERFLOW_", "TEMPORAL_"))},
        "ORDERFLOW_DATA_DIR": str(data_dir),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "ORDERFLOW_UI_PORT": str(free_port()),
        "ORDERFLOW_UI_CODEC_PORT": str(free_port()),
        "ORDERFLOW_API_PORT": str(free_port()),
        "ORDERFLOW_METRICS_PORT": "0",
    }


#: A stack whose worker injects no faults: with the default 20/15/10% and 3 attempts,
#: about 1 order in 50 fails, and a test of the stack's processes must see one complete.
QUIET = {
    "ORDERFLOW_PAYMENT_FAILURE_RATE": "0",
    "ORDERFLOW_INVENTORY_FAILURE_RATE": "0",
    "ORDERFLOW_SHIPPING_FAILURE_RATE": "0",
}


def run(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ORDERFLOW), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def temporal_processes(data_dir: Path) -> list[int]:
    """Pids of dev servers persisting into ``data_dir`` (none may be left behind)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"start-dev" in cmdline and str(data_dir).encode() in cmdline:
                found.append(int(entry.name))
    return found


def stack_children(data_dir: Path) -> list[int]:
    """Pids of ``orderflow`` processes (the stack's worker and API) working in ``data_dir``."""
    mark = f"ORDERFLOW_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                environ = (entry / "environ").read_bytes()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if mark in environ.split(b"\0") and b"orderflow" in cmdline:
                found.append(int(entry.name))
    return found


@pytest.fixture
def detached(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """``orderflow server --detach`` in a data directory of its own; stopped at the end
    (a test marked ``quiet`` gets a worker that injects no faults)."""
    env = stack_env(tmp_path / "data")
    if request.node.get_closest_marker("quiet") is not None:
        env.update(QUIET)
    started = run(env, "server", "--detach", timeout=90)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield env
    finally:
        stopped = run(env, "server", "--stop", timeout=60)
        assert "stopped" in stopped.stdout
        assert temporal_processes(tmp_path / "data") == []
        assert stack_children(tmp_path / "data") == []


def test_the_web_ui_decodes_payloads_through_the_servers_codec_and_no_other_origin_may(
    detached: dict[str, str],
) -> None:
    env = detached
    ui = f"http://127.0.0.1:{env['ORDERFLOW_UI_PORT']}"
    codec = f"http://127.0.0.1:{env['ORDERFLOW_UI_CODEC_PORT']}"
    settings = Settings(data_dir=Path(env["ORDERFLOW_DATA_DIR"]))
    codec_of_client = converter_for(settings).payload_codec
    assert codec_of_client is not None  # private by default: payloads are encrypted
    payload = converter_for(settings).payload_converter.to_payloads([{"name": "Ada Lovelace"}])
    import asyncio

    encrypted = asyncio.run(codec_of_client.encode(payload))
    body = json_format.MessageToDict(Payloads(payloads=encrypted))

    with httpx.Client(timeout=10) as http:
        ui_settings = http.get(f"{ui}/api/v1/settings").json()
        from_ui = http.post(f"{codec}/decode", json=body, headers={"Origin": ui})
        from_elsewhere = http.post(
            f"{codec}/decode", json=body, headers={"Origin": "http://evil.example"}
        )
        preflight = http.options(
            f"{codec}/decode",
            headers={"Origin": ui, "Access-Control-Request-Method": "POST"},
        )

    assert ui_settings["Codec"]["Endpoint"] == codec
    assert from_ui.status_code == 200
    assert from_ui.headers["access-control-allow-origin"] == ui
    decoded = json_format.ParseDict(from_ui.json(), Payloads())
    assert b"Ada Lovelace" in decoded.payloads[0].data
    assert "access-control-allow-origin" not in from_elsewhere.headers
    assert preflight.status_code == 200


@pytest.mark.quiet
def test_the_stack_runs_a_worker_and_the_console_with_a_key_of_its_own_and_the_demo_links_it(
    detached: dict[str, str], tmp_path: Path
) -> None:
    env = detached
    key_file = Path(env["ORDERFLOW_DATA_DIR"]) / "api.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    console = f"http://127.0.0.1:{env['ORDERFLOW_API_PORT']}"
    with httpx.Client(base_url=console, timeout=10) as http:
        home = http.get("/", follow_redirects=True)
        assert home.status_code == 200 and "Sign in" in home.text
        assert http.get("/orders").status_code == 401
        assert http.get("/orders", headers={"Authorization": f"Bearer {key}"}).status_code == 200

    # The stack's worker serves the default task queue: a plain submit completes.
    for sku, units in (("TEE-BLACK-M", "2"), ("MUG-LOGO", "1")):
        assert run(env, "inventory", "restock", sku, units).returncode == 0
    order = tmp_path / "order.json"
    order.write_text(json.dumps(an_order()))
    submitted = run(env, "submit", str(order), "--json", timeout=120)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    assert json.loads(submitted.stdout)["status"] == "COMPLETED"

    demo = run(env, "demo", "--orders", "6", "--seed", "2", timeout=120)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert f"Console: {console}/console/ — sign in with the key in {key_file}" in demo.stdout
    assert key not in demo.stdout + demo.stderr


def test_a_second_server_says_one_already_answers_and_detach_returns(
    detached: dict[str, str],
) -> None:
    again = run(detached, "server", "--detach", timeout=30)
    foreground = run(detached, "server", timeout=30)

    assert again.returncode == 0 and "already answers" in again.stdout
    assert foreground.returncode == 6 and "already answers" in foreground.stdout


def test_the_server_in_the_foreground_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    env = stack_env(tmp_path / "data")
    proc = subprocess.Popen(
        [str(ORDERFLOW), "server"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    seen = b""
    while b"orderflow server ready" not in seen and time.monotonic() < deadline:
        seen += proc.stdout.readline()
    assert b"orderflow server ready" in seen, seen
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert temporal_processes(tmp_path / "data") == []


def test_a_taken_codec_port_is_named(tmp_path: Path) -> None:
    import socket

    env = stack_env(tmp_path / "data")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(env["ORDERFLOW_UI_CODEC_PORT"])))
        taken.listen()
        proc = run(env, "server", "--detach", timeout=30)

    assert_clean_failure(proc, 6)
    assert "ORDERFLOW_UI_CODEC_PORT" in proc.stderr


def test_the_demo_twice_in_a_row_after_a_worker_died_applies_its_own_fault_flags(
    detached: dict[str, str],
) -> None:
    env = detached
    # A worker on the default queue, SIGKILLed: Temporal lists it as a poller for minutes.
    worker = subprocess.Popen(
        [str(ORDERFLOW), "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert worker.stderr is not None
    deadline = time.monotonic() + 60
    while b"worker polling task queue" not in worker.stderr.readline():
        assert time.monotonic() < deadline and worker.poll() is None
    worker.kill()
    worker.wait()

    off = ["--payment-failure-rate", "0", "--inventory-failure-rate", "0"]
    off += ["--shipping-failure-rate", "0"]
    first = run(env, "demo", "--orders", "12", "--seed", "5", "--json", *off, timeout=120)
    second = run(env, "demo", "--orders", "12", "--seed", "5", "--json", timeout=120)

    for proc in (first, second):
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert "a worker of the demo's own on task queue 'demo-" in proc.stdout
        assert "panicked at" not in proc.stdout + proc.stderr
    quiet, faulty = (json.loads(p.stdout.strip().splitlines()[-1]) for p in (first, second))
    assert quiet["retries"] == 0  # its flags were in force: no fault, no retry
    assert faulty["retries"] > 0  # the defaults: 20% / 15% / 10%
    for figures in (quiet, faulty):
        assert figures["lost"] == 0 and figures["audit"]["ok"] is True
    assert "faults: payment 0%" in first.stdout and "faults: payment 20%" in second.stdout
