"""The in-process variants: the legacy processor and DBOS (sync and async APIs).

They need no Temporal server; everything they do is CPU of this process.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from orderflow.adapters.simulated import InventorySystem, PaymentGateway, ShippingCarrier
from orderflow.config import Settings
from orderflow.domain.models import Order
from orderflow.lab.bench.measure import CpuClock, Figures, measure_async, measure_threads
from orderflow.lab.bench.order_steps import OrderSteps
from orderflow.lab.bench.workload import fresh_store
from orderflow.lab.legacy.processor import LegacyOrderProcessor

#: Shown (and put in the JSON) when the optional ``dbos`` package is missing.
DBOS_MISSING = (
    "the dbos package is not installed: install the optional 'bench' dependency group "
    "(uv sync --group bench) to measure DBOS Transact"
)


def dbos_available() -> str | None:
    """None when DBOS can be measured, else the reason it cannot."""
    try:
        import dbos  # noqa: F401
    except ImportError:
        return DBOS_MISSING
    return None


async def measure_legacy(
    settings: Settings,
    data_dir: Path,
    warmup: Sequence[Order],
    orders: Sequence[Order],
    *,
    concurrency: int,
    deadline: float,
) -> Figures:
    """The legacy processor, fault-free, one thread per concurrent order (no durability)."""
    store = fresh_store(settings, data_dir, [*warmup, *orders])
    processor = LegacyOrderProcessor(
        store, PaymentGateway(store), InventorySystem(store), ShippingCarrier(store)
    )

    def one(order: Order) -> bool:
        return processor.process_order(order)["status"] == "completed"

    try:
        return await measure_threads(
            "legacy",
            one,
            warmup,
            orders,
            concurrency=concurrency,
            deadline=deadline,
            clock=CpuClock(None),
        )
    finally:
        store.engine.dispose()


async def measure_dbos(
    settings: Settings,
    data_dir: Path,
    warmup: Sequence[Order],
    orders: Sequence[Order],
    *,
    concurrency: int,
    deadline: float,
    use_async: bool,
) -> Figures:
    """orderflow's order on DBOS with a fresh SQLite system database and store."""
    from orderflow.lab.bench import dbos_peer  # needs the optional package: imported late

    store = fresh_store(settings, data_dir, [*warmup, *orders])
    name = "dbos_async" if use_async else "dbos"
    started = time.monotonic()
    try:
        with dbos_peer.dbos_session(data_dir / "dbos-system.sqlite", store):
            clock = CpuClock(None)
            if use_async:
                figures = await measure_async(
                    name,
                    dbos_peer.run_async,
                    warmup,
                    orders,
                    concurrency=concurrency,
                    deadline=deadline,
                    clock=clock,
                )
            else:
                figures = await measure_threads(
                    name,
                    dbos_peer.run_sync,
                    warmup,
                    orders,
                    concurrency=concurrency,
                    deadline=deadline,
                    clock=clock,
                )
    finally:
        store.engine.dispose()
    figures.extra["session_seconds"] = round(time.monotonic() - started, 2)
    return figures


async def measure_restate(
    settings: Settings,
    data_dir: Path,
    warmup: Sequence[Order],
    orders: Sequence[Order],
    *,
    concurrency: int,
    deadline: float,
) -> Figures:
    """orderflow's order as a Restate workflow: a fresh server and service per measurement,
    each order the door's check and one call through the server's ingress, waited for to
    its result."""
    import httpx

    from orderflow.lab.bench.restate_peer import WORKFLOW, restate_stack

    store = fresh_store(settings, data_dir, [*warmup, *orders])
    steps = OrderSteps.over(store)
    url = store.engine.url.render_as_string(hide_password=False)
    started = time.monotonic()
    try:
        async with restate_stack(data_dir / "restate", url) as stack:
            limits = httpx.Limits(max_connections=concurrency + 4)
            async with httpx.AsyncClient(base_url=stack.ingress, timeout=60, limits=limits) as http:

                async def one(order: Order) -> bool:
                    steps.admit(order)  # the door's check, as orderflow's client does it
                    answer = await http.post(
                        f"/{WORKFLOW}/{order.order_id}/run", json=order.model_dump(mode="json")
                    )
                    return answer.status_code == 200 and bool(answer.json())

                clock = CpuClock(stack.server_pid)
                clock.worker_pids = [stack.service_pid]
                figures = await measure_async(
                    "restate",
                    one,
                    warmup,
                    orders,
                    concurrency=concurrency,
                    deadline=deadline,
                    clock=clock,
                )
    finally:
        store.engine.dispose()
    figures.extra["session_seconds"] = round(time.monotonic() - started, 2)
    return figures
