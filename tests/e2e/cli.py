"""Running the real ``orderflow`` command against a real Temporal dev server, as a user would.

A ``Shop`` is one data directory (store, encryption key) and one task queue on the
session's dev server; ``shop.cli(...)`` runs the CLI process with that environment off the
event loop (so an in-process worker on the same loop keeps working while it waits).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client

from orderflow.bootstrap import build_store
from orderflow.config import Settings
from orderflow.domain.catalog import CATALOG
from orderflow.store import Store
from orderflow.temporal.client import connect
from tests.workflow.conftest import make_activities, worker_for

ORDERFLOW = Path(sys.executable).parent / "orderflow"
#: What a traceback or an interpreter crash at exit looks like in a command's output.
CRASH_MARKS = ("Traceback (most recent call last)", "Fatal Python error", "panicked at")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def an_order(**changes: Any) -> dict[str, Any]:
    """A valid order file's content: 2 x TEE-BLACK-M and 1 x MUG-LOGO to London."""
    body: dict[str, Any] = {
        "order_id": f"cli-{uuid.uuid4().hex[:10]}",
        "customer_id": "cust-042",
        "items": [{"sku": "TEE-BLACK-M", "quantity": 2}, {"sku": "MUG-LOGO", "quantity": 1}],
        "address": {
            "name": "Ada Lovelace",
            "line1": "12 Analytical Way",
            "city": "London",
            "postal_code": "N1 9GU",
            "country": "GB",
        },
        "payment_token": "tok_visa",
        "service_level": "standard",
    }
    return {**body, **changes}


@dataclass
class Shop:
    """One data directory and task queue on the session's Temporal server."""

    data_dir: Path
    temporal_address: str
    task_queue: str
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return Settings(
            data_dir=self.data_dir,
            temporal_address=self.temporal_address,
            task_queue=self.task_queue,
            encryption_keys=self.extra_env.get("ORDERFLOW_ENCRYPTION_KEYS", ""),  # type: ignore[arg-type]
        )

    def env(self, **extra: str) -> dict[str, str]:
        base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("ORDERFLOW_", "TEMPORAL_")) and key != "DATABASE_URL"
        }
        return {
            **base,
            "ORDERFLOW_DATA_DIR": str(self.data_dir),
            "TEMPORAL_ADDRESS": self.temporal_address,
            "ORDERFLOW_TASK_QUEUE": self.task_queue,
            "ORDERFLOW_STALL_AFTER_S": "2",
            "ORDERFLOW_METRICS_PORT": "0",
            "COLUMNS": "80",
            **self.extra_env,
            **extra,
        }

    async def cli(
        self, *args: str, stdin: bytes | None = None, timeout: float = 120, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run ``orderflow ARGS`` with this shop's environment; never blocks the loop."""

        def run() -> subprocess.CompletedProcess[str]:
            proc = subprocess.run(
                [str(ORDERFLOW), *args],
                env=self.env(**env),
                input=stdin,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
            return subprocess.CompletedProcess(
                proc.args,
                proc.returncode,
                proc.stdout.decode(errors="replace"),
                proc.stderr.decode(errors="replace"),
            )

        return await asyncio.to_thread(run)

    def order_file(self, body: Any, name: str = "order.json") -> Path:
        path = self.data_dir.parent / name
        path.write_text(json.dumps(body))
        return path

    def store(self) -> Store:
        return build_store(self.settings)

    async def client(self) -> Client:
        """A client encrypting with this shop's key, as the CLI does."""
        return await connect(self.settings)

    @asynccontextmanager
    async def worker(self, store: Store | None = None) -> AsyncIterator[Store]:
        """An in-process worker (no faults) on this shop's queue, store and key."""
        store = store or self.store()
        client = await self.client()
        try:
            async with worker_for(client, self.task_queue, make_activities(store)):
                yield store
        finally:
            store.engine.dispose()


def stocked(store: Store, units: int = 50) -> Store:
    """``store`` with ``units`` of every SKU in the first warehouse."""
    for product in CATALOG:
        store.restock(product.sku, units)
    return store


def assert_clean_failure(proc: subprocess.CompletedProcess[str], code: int) -> None:
    """Exit ``code``, an ``error:`` line, and no traceback or crash anywhere."""
    output = proc.stdout + proc.stderr
    assert proc.returncode == code, (proc.returncode, output[-3000:])
    assert "error:" in proc.stderr, proc.stderr[-2000:]
    for mark in CRASH_MARKS:
        assert mark not in output, output[-3000:]
