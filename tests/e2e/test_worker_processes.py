"""`orderflow worker --processes N` on one task queue, with Prometheus metrics that move."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from orderflow.app.orders import start_order
from orderflow.app.watch import result_of
from orderflow.bootstrap import build_store
from orderflow.config import Settings
from orderflow.domain.catalog import CATALOG
from orderflow.domain.status import OrderStatus
from orderflow.temporal.client import connect
from tests.e2e.test_demo import free_port
from tests.workflow.conftest import FAST
from tests.workflow.helpers import an_order

ORDERFLOW = Path(sys.executable).parent / "orderflow"


def scrape(port: int, deadline: float) -> str:
    """The metrics page, polled until the worker serves it (bounded)."""
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as page:
                return page.read().decode()  # type: ignore[no-any-return]
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def counter(text: str, name: str, label: str) -> float:
    """Sum of a counter's samples whose labels contain ``label``."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and label in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.e2e
async def test_two_worker_processes_share_a_queue_and_count_orders_in_metrics(
    temporal_env: WorkflowEnvironment, data_dir: Path
) -> None:
    queue = f"procs-{uuid.uuid4().hex[:8]}"
    port = free_port()
    store = build_store(Settings(data_dir=data_dir))
    for product in CATALOG:
        store.restock(product.sku, 20)
    env = {
        **os.environ,
        "ORDERFLOW_DATA_DIR": str(data_dir),
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "ORDERFLOW_TASK_QUEUE": queue,
        "ORDERFLOW_LOG_FORMAT": "json",
    }
    args = [
        str(ORDERFLOW),
        "worker",
        "--processes",
        "2",
        "--metrics-port",
        str(port),
        "--payment-failure-rate",
        "0",
        "--inventory-failure-rate",
        "0",
        "--shipping-failure-rate",
        "0",
    ]
    log_path = data_dir / "worker.log"
    log_file = log_path.open("w")
    proc = subprocess.Popen(args, env=env, stderr=log_file)
    # The workers encrypt with the data directory's key: so does this client.
    client = await connect(Settings(data_dir=data_dir, temporal_address=env["TEMPORAL_ADDRESS"]))
    try:
        deadline = time.monotonic() + 60
        before = [scrape(port + i, deadline) for i in (0, 1)]  # both processes serve metrics
        handles = [
            await start_order(client, an_order(f"{queue}-{n}"), queue, FAST) for n in range(6)
        ]
        handles.append(
            await start_order(client, an_order(f"{queue}-declined", "tok_declined"), queue, FAST)
        )
        results = [await result_of(handle) for handle in handles]
        # The metrics of a workflow's last task may reach the page a moment after its result.
        after = [scrape(port + i, deadline) for i in (0, 1)]
        while time.monotonic() < deadline and not any(
            counter(page, "orderflow_orders", 'outcome="failed"') for page in after
        ):
            time.sleep(0.2)
            after = [scrape(port + i, deadline) for i in (0, 1)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        log_file.close()
    stderr = log_path.read_text()

    assert [r.status for r in results].count(OrderStatus.COMPLETED) == 6
    assert results[-1].status is OrderStatus.FAILED
    completed = sum(counter(page, "orderflow_orders", 'outcome="completed"') for page in after)
    failed = sum(counter(page, "orderflow_orders", 'outcome="failed"') for page in after)
    assert (
        completed - sum(counter(page, "orderflow_orders", 'outcome="completed"') for page in before)
        == 6
    )
    assert failed >= 1
    assert (
        sum(counter(p, "orderflow_compensations", 'action="release_payment"') for p in after) >= 1
    )
    assert "temporal_" in after[0]  # the SDK's own runtime metrics are served too
    assert proc.returncode == 0
    assert f'"order_id": "{queue}-declined"' in stderr  # structured logs carry the order id
