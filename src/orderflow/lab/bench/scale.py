"""The console at scale: a store filled with N orders, and how long its pages take.

The store is filled directly (rows, not workflows: 100,000 workflows would take hours on
these machines and are not what the pages read). The pages are then asked for through
the real console application over ASGI, with a service that has *no Temporal client at
all*: a list or an overview that made one Temporal call per row would fail, not just be
slow. Times are medians of several requests, after one warm-up request.
"""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, cast

import httpx
from pydantic import SecretStr
from sqlalchemy import func, insert, select, update

from orderflow.api import create_app
from orderflow.app.orders import OrderService
from orderflow.config import Settings
from orderflow.domain.catalog import CATALOG, DEFAULT_WAREHOUSE
from orderflow.store import Store
from orderflow.store.tables import orders, payments, reservations, shipments, stock

KEY = "scale-bench-key-0123456789abcdef"

#: (state, share of orders): mostly finished, a few running, waiting or parked.
MIX = (
    ("COMPLETED", 0.84),
    ("FAILED", 0.08),
    ("CANCELLED", 0.03),
    ("RESERVED", 0.02),
    ("AWAITING_REVIEW", 0.01),
    ("NEEDS_ATTENTION", 0.01),
    ("PAID", 0.01),
)
REASONS = ("PaymentDeclined", "OutOfStock", "ServiceUnavailable")
#: The pages measured, by name.
PAGES = {
    "orders, first page": "/console/orders",
    "orders, FAILED only": "/console/orders?state=FAILED",
    "orders, page 40": "/console/orders?page=40",
    "orders, one customer": "/console/orders?q=cust-00042",
    "overview": "/console/",
    "needs a human": "/console/attention",
    "payments": "/console/payments",
}
CHUNK = 5_000
SKUS = tuple(product.sku for product in CATALOG)


@dataclass
class ScaleResult:
    """Median milliseconds per page at one store size."""

    orders: int
    fill_seconds: float
    pages_ms: dict[str, float] = field(default_factory=dict)
    #: The audit and one reconciliation pass (no repair): seconds, and the peak resident
    #: memory of the process that ran it (MiB; ``*_base_mib``: the same process before).
    ops_seconds: dict[str, float] = field(default_factory=dict)
    ops_peak_mib: dict[str, float] = field(default_factory=dict)
    ops_base_mib: dict[str, float] = field(default_factory=dict)


#: The store-wide passes timed at each size, each in a fresh process of its own.
OPERATIONS = ("audit", "reconcile")


def timed_operation(url: str, operation: str) -> tuple[float, float, float]:
    """Run ``operation`` over the store at ``url`` in this (fresh) process: its seconds,
    this process's peak RSS after it and before it (MiB)."""
    import resource

    from orderflow.store import make_engine
    from orderflow.store.audit import run_audit
    from orderflow.store.drift import reconcile

    store = Store(make_engine(url))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    began = time.perf_counter()
    if operation == "audit":
        run_audit(store.engine)
    else:
        reconcile(store, repair=False)
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    store.engine.dispose()
    return seconds, peak, before


def measure_operations(store: Store) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Time the audit and a reconciliation, each in a process of its own (its peak memory
    is then the operation's, not the fill's)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    url = store.engine.url.render_as_string(hide_password=False)
    seconds, peak, base = {}, {}, {}
    for operation in OPERATIONS:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            seconds[operation], peak[operation], base[operation] = pool.submit(
                timed_operation, url, operation
            ).result()
    return seconds, peak, base


def _rows(
    n: int, seed: int, now: datetime
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """N orders (oldest first, over the last 7 days; the newest hour busiest), each with
    its ledger rows: completed orders charged, failed ones charged and refunded or never
    charged, parked ones charged and not refunded."""
    rng = random.Random(seed)
    states = [state for state, _ in MIX]
    weights = [share for _, share in MIX]
    start = now - timedelta(days=7)
    for index in range(n):
        state = rng.choices(states, weights)[0]
        created = start + timedelta(seconds=7 * 86400 * (index / max(1, n - 1)) ** 0.5)
        created = min(created, now)
        total = Decimal(rng.randint(500, 40_000)) / 100
        order_id = f"scale-{index:08d}"
        final = state in ("COMPLETED", "FAILED", "CANCELLED")
        finished = created + timedelta(seconds=rng.uniform(1, 30)) if final else None
        error = rng.choice(REASONS) if state == "FAILED" else None
        row = {
            "order_id": order_id,
            "created_at": created,
            "updated_at": finished or created,
            "customer_id": f"cust-{rng.randint(1, 5_000):05d}",
            "state": state,
            "step": "" if final else {"PAID": "payment", "RESERVED": "reserve"}.get(state, ""),
            "status": state if final else None,
            "finished_at": finished,
            "total": total,
            "error_type": error,
            "reason": f"payment: {error}" if error else None,
            "due_at": created + timedelta(days=1) if state == "AWAITING_REVIEW" else None,
            "refunded": False,
            "released": False,
            "shipment_cancelled": False,
        }
        # As the saga leaves them: a completed order held, captured, reserved and shipped; a
        # failed or cancelled one held and voided (or, declined, never held); one still
        # running holds its card.
        ledger: list[dict[str, Any]] = []
        held = state != "FAILED" or error != "PaymentDeclined"
        if held:
            ledger.append(_money(order_id, "authorize", total, created))
        if state == "COMPLETED":
            ledger.append(_money(order_id, "capture", total, finished or created))
        elif state in ("FAILED", "CANCELLED") and held:
            ledger.append(_money(order_id, "void", total, finished or created))
            row["refunded"] = True
        goods: list[dict[str, Any]] = []
        if state in ("COMPLETED", "RESERVED"):
            goods.append(
                {
                    "table": "reservation",
                    "order_id": order_id,
                    "sku": rng.choice(SKUS),
                    "quantity": 1,
                }
            )
        if state == "COMPLETED":
            goods.append({"table": "shipment", "order_id": order_id, "cost": Decimal("4.30")})
        yield row, ledger + goods


def _money(order_id: str, kind: str, amount: Decimal, at: datetime) -> dict[str, Any]:
    reference = f"{kind[:2]}_{order_id}"
    return {
        "order_id": order_id,
        "kind": kind,
        "amount": amount,
        "idempotency_key": f"{order_id}:{kind}",
        "reference": reference,
        "created_at": at,
        # A capture or a void names its hold; a hold lapses in 7 days.
        "authorization_ref": None if kind == "authorize" else f"au_{order_id}",
        "expires_at": at + timedelta(days=7) if kind == "authorize" else None,
    }


def fill(store: Store, n: int, seed: int = 7) -> float:
    """Add N orders (and their ledger rows) to ``store``; the seconds it took."""
    began = time.perf_counter()
    now = datetime.now(timezone.utc)
    batch: list[dict[str, Any]] = []
    money: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    booked: list[dict[str, Any]] = []

    def flush(conn: Any) -> None:
        for table, rows in ((orders, batch), (payments, money), (reservations, held)):
            if rows:
                conn.execute(insert(table), rows)
        if booked:
            conn.execute(insert(shipments), booked)
        for rows in (batch, money, held, booked):
            rows.clear()

    with store.engine.begin() as conn:
        for row, ledger in _rows(n, seed, now):
            batch.append(row)
            for entry in ledger:
                kind = entry.pop("table", "payment")
                if kind == "reservation":
                    held.append({**entry, "warehouse": DEFAULT_WAREHOUSE, "status": "held"})
                elif kind == "shipment":
                    booked.append(
                        {
                            **entry,
                            "warehouse": DEFAULT_WAREHOUSE,
                            "tracking_number": f"1Z{entry['order_id'][-10:]}",
                            "service_level": "standard",
                            "status": "booked",
                        }
                    )
                else:
                    money.append(entry)
            if len(batch) >= CHUNK:
                flush(conn)
        flush(conn)
        # Stock conserved: what the orders hold was on the shelf.
        for sku in SKUS:
            units = conn.scalar(
                select(func.coalesce(func.sum(reservations.c.quantity), 0)).where(
                    reservations.c.sku == sku, reservations.c.status == "held"
                )
            )
            conn.execute(
                update(stock)
                .where(stock.c.sku == sku, stock.c.warehouse == DEFAULT_WAREHOUSE)
                .values(initial=stock.c.available + int(units or 0))
            )
    return time.perf_counter() - began


async def measure_pages(store: Store, settings: Settings, repeat: int = 7) -> dict[str, float]:
    """Median milliseconds of each console page over ``store``, through the real app."""
    # No Temporal client: these pages must not need one.
    service = OrderService(cast(Any, None), store, settings.task_queue)
    app = create_app(settings.model_copy(update={"api_keys": SecretStr(KEY)}), service)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        login = await http.get("/console/login")
        csrf = login.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        signed = await http.post("/console/login", data={"key": KEY, "csrf": csrf})
        if signed.status_code != 303:
            raise RuntimeError(f"could not sign in to the console: {signed.status_code}")
        figures: dict[str, float] = {}
        for name, path in PAGES.items():
            times = []
            for attempt in range(repeat + 1):
                began = time.perf_counter()
                answer = await http.get(path)
                elapsed = (time.perf_counter() - began) * 1000
                if answer.status_code != 200:
                    raise RuntimeError(f"{path} answered {answer.status_code}: {answer.text[:300]}")
                if attempt:  # the first one warms caches up
                    times.append(elapsed)
            figures[name] = statistics.median(times)
    return figures


def run_scale(
    sizes: list[int], make_store: Any, settings: Settings, seed: int
) -> list[ScaleResult]:
    """Fill a fresh store per size and measure the pages on it."""
    results = []
    for size in sizes:
        store: Store = make_store(size)
        try:
            seconds = fill(store, size, seed)
            pages = asyncio.run(measure_pages(store, settings))
            ops, peak, base = measure_operations(store)
        finally:
            store.engine.dispose()
        results.append(
            ScaleResult(
                orders=size,
                fill_seconds=seconds,
                pages_ms=pages,
                ops_seconds=ops,
                ops_peak_mib=peak,
                ops_base_mib=base,
            )
        )
    return results


def table(results: list[ScaleResult]) -> str:
    """The figures as a text table: one row per page, one column per store size."""
    head = f"{'page (median ms)':<24}" + "".join(f"{r.orders:>14,}" for r in results)
    lines = [head, "-" * len(head)]
    for name in PAGES:
        lines.append(f"{name:<24}" + "".join(f"{r.pages_ms[name]:>14.1f}" for r in results))
    lines.append(f"{'(fill, s)':<24}" + "".join(f"{r.fill_seconds:>14.1f}" for r in results))
    for operation in OPERATIONS:
        lines.append(
            f"{operation + ' (s)':<24}"
            + "".join(f"{r.ops_seconds.get(operation, math.nan):>14.2f}" for r in results)
        )
        lines.append(
            f"{operation + ' peak MiB':<24}"
            + "".join(f"{r.ops_peak_mib.get(operation, math.nan):>14.1f}" for r in results)
        )
    return "\n".join(lines)
