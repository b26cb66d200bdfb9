"""End to end: the demo path on a real server, the CLI as a user runs it, legacy vs Temporal."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from orderflow.bootstrap import build_activities, build_service, build_store
from orderflow.config import Settings
from orderflow.lab.batch import audited, run_batch
from orderflow.lab.samples import generate_orders
from orderflow.lab.summary import RunReport
from orderflow.worker import running_worker

ORDERFLOW = Path(sys.executable).parent / "orderflow"
RAISED = {
    "payment_failure_rate": 0.5,
    "inventory_failure_rate": 0.4,
    "shipping_failure_rate": 0.4,
    "lost_response_share": 0.5,
}


async def demo_in_process(
    env: WorkflowEnvironment, data_dir: Path, orders: int, seed: int, **rates: float
) -> RunReport:
    settings = Settings(
        data_dir=data_dir, task_queue=f"e2e-{uuid.uuid4().hex[:8]}", seed=seed, **rates
    )
    store = build_store(settings)
    batch = f"e2e{uuid.uuid4().hex[:6]}-"
    report = RunReport(mode="demo", batch=batch, orders=orders)
    service = build_service(env.client, store, settings)
    async with running_worker(env.client, settings, build_activities(store, settings)):
        results = await run_batch(service, generate_orders(orders, seed, batch), report=report)
    return audited(report, store, results)


async def test_fifty_demo_orders_all_finish_with_a_clean_audit(
    temporal_env: WorkflowEnvironment, data_dir: Path
) -> None:
    report = await demo_in_process(temporal_env, data_dir, orders=50, seed=7)

    assert report.lost == 0
    assert report.completed + report.failed + report.needs_attention + report.refused == 50
    assert report.refused > 0  # the batch's invalid orders are refused at the door
    assert report.audit.ok, report.audit.violations
    assert report.retries > 0  # the default fault rates were in force
    assert report.completed > 30
    assert report.failed > 0  # the batch includes declined cards and invalid orders


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(
    *args: str, data_dir: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ORDERFLOW_DATA_DIR": str(data_dir),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "ORDERFLOW_UI_PORT": str(free_port()),
        **(extra_env or {}),
    }
    return subprocess.run(
        [str(ORDERFLOW), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def last_json_line(output: str) -> dict[str, object]:
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.e2e
def test_demo_command_starts_its_own_server_and_ends_with_json_figures(data_dir: Path) -> None:
    proc = run_cli("demo", "--orders", "20", "--seed", "7", "--json", data_dir=data_dir)

    assert proc.returncode == 0, proc.stderr[-2000:]
    figures = last_json_line(proc.stdout)
    for key in ("orders", "completed", "failed", "compensated", "needs_attention", "retries"):
        assert isinstance(figures[key], int), key
    assert figures["orders"] == 20
    assert figures["audit"]["ok"] is True  # type: ignore[index]
    assert figures["audit"]["violations"] == []  # type: ignore[index]
    assert "starting the embedded Temporal server" in proc.stdout
    assert (data_dir / "temporal.db").exists()  # persisted, as `orderflow server` does
    assert "Temporal will retry" in proc.stderr  # retries are visible as they happen
    audit = run_cli("audit", data_dir=data_dir)
    assert audit.returncode == 0 and "0 violation(s)" in audit.stdout


@pytest.mark.e2e
async def test_legacy_leaves_orphaned_charges_that_the_temporal_version_does_not(
    temporal_env: WorkflowEnvironment, data_dir: Path, tmp_path: Path
) -> None:
    flags = [f"--{key.replace('_', '-')}={value}" for key, value in RAISED.items()]
    legacy_dir = tmp_path / "legacy"
    proc = run_cli("legacy", "--orders", "40", "--seed", "3", "--json", *flags, data_dir=legacy_dir)
    assert proc.returncode == 0, proc.stderr[-2000:]
    legacy = last_json_line(proc.stdout)
    legacy_audit = legacy["audit"]
    assert isinstance(legacy_audit, dict)
    assert legacy_audit["ok"] is False
    assert legacy_audit["orphaned_charges"] > 0  # charged, never shipped, never refunded
    audit = run_cli("audit", "--legacy", data_dir=legacy_dir)
    assert audit.returncode == 1 and "but not shipped" in audit.stdout
    shop = run_cli("audit", data_dir=legacy_dir)  # the shop's database was never touched
    assert shop.returncode == 7 and "there is no database at" in shop.stderr

    temporal = await demo_in_process(temporal_env, data_dir, orders=40, seed=3, **RAISED)
    assert temporal.lost == 0
    assert temporal.audit.ok, temporal.audit.violations
    assert temporal.audit.orphaned_charges == 0
    assert temporal.audit.duplicate_charges == 0
    assert temporal.compensated > 0
