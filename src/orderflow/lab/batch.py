"""The demo: submit a batch of orders concurrently, watch them, audit the database."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence

from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError

from orderflow.domain.models import Order
from orderflow.domain.status import OrderStatus
from orderflow.lab.samples import stock_targets
from orderflow.lab.summary import RunReport
from orderflow.store import Store
from orderflow.store.audit import COMPLETE, INCONSISTENT, run_audit
from orderflow.temporal.client import start_order
from orderflow.workflows.messages import OrderOptions, OrderResult
from orderflow.workflows.order import OrderWorkflow


def new_batch_id(mode: str) -> str:
    """A fresh prefix so every run's orders (and workflow ids) are new."""
    return f"{mode}-{uuid.uuid4().hex[:6]}-"


async def settle(handle: WorkflowHandle[OrderWorkflow, OrderResult]) -> OrderResult:
    """The order's result once it is final, or parked in NEEDS_ATTENTION for an operator."""
    try:
        return await handle.execute_update(OrderWorkflow.settled)
    except (RPCError, WorkflowUpdateFailedError):
        # Already closed (an update cannot reach it): its result is final.
        return await handle.result()


def seed_inventory(store: Store, orders: Sequence[Order]) -> None:
    """Top stock up to the batch's targets (the scarce SKU stays scarce on purpose)."""
    available = store.availability()
    for (warehouse, sku), target in stock_targets(orders).items():
        missing = target - available.get(warehouse, {}).get(sku, 0)
        if missing > 0:
            store.restock(sku, missing, warehouse)


def cross_check(results: Sequence[OrderResult], states: dict[str, str]) -> list[str]:
    """Each workflow's outcome must match what the database says about the order."""
    problems = []
    for result in results:
        state = states.get(result.order_id, "clean")  # never touched the DB: clean
        if result.status is OrderStatus.COMPLETED and state != COMPLETE:
            problems.append(f"order {result.order_id}: COMPLETED but the database says {state}")
        if result.status is OrderStatus.FAILED and state != "clean":
            problems.append(f"order {result.order_id}: FAILED but the database says {state}")
        if result.status is OrderStatus.NEEDS_ATTENTION and state != INCONSISTENT:
            problems.append(f"order {result.order_id}: NEEDS_ATTENTION but the database is {state}")
    return problems


def tally(report: RunReport, result: OrderResult) -> None:
    """Add one order's outcome to the report."""
    report.retries += result.retries
    if result.status is OrderStatus.COMPLETED:
        report.completed += 1
    elif result.status is OrderStatus.NEEDS_ATTENTION:
        report.needs_attention += 1
        report.count_failure(result)
    elif result.status is OrderStatus.CANCELLED:
        report.cancelled += 1
    else:
        report.failed += 1
        report.count_failure(result)
    if result.status is not OrderStatus.COMPLETED and result.compensated:
        report.compensated += 1


async def run_batch(
    client: Client,
    store: Store,
    orders: Sequence[Order],
    *,
    task_queue: str,
    batch: str,
    options: OrderOptions,
    timeout: float = 600.0,
    on_progress: Callable[[str], None] | None = None,
) -> RunReport:
    """Submit ``orders`` concurrently, wait for every outcome, audit the batch."""
    report = RunReport(mode="demo", batch=batch, orders=len(orders))
    started = time.monotonic()
    seed_inventory(store, orders)
    handles = await asyncio.gather(
        *(start_order(client, order, task_queue, options) for order in orders)
    )
    results: list[OrderResult] = []
    done = 0
    last_print = 0.0
    deadline = started + timeout
    pending = {asyncio.ensure_future(settle(handle)) for handle in handles}
    while pending:
        finished, pending = await asyncio.wait(
            pending, timeout=max(0.0, deadline - time.monotonic()), return_when="FIRST_COMPLETED"
        )
        if not finished:
            break  # out of time: whatever is still pending is reported as lost
        for future in finished:
            done += 1
            try:
                result = future.result()
            except WorkflowFailureError as err:  # a crashed workflow is a bug; count it
                report.lost += 1
                report.count_reason(f"workflow: WorkflowFailure: {err.cause}")
                continue
            results.append(result)
            tally(report, result)
        if on_progress and (time.monotonic() - last_print > 1.0 or not pending):
            last_print = time.monotonic()
            on_progress(report.progress_line(done))
    for future in pending:
        future.cancel()
    report.lost += len(pending)
    report.seconds = time.monotonic() - started
    audit = run_audit(store.engine, order_prefix=batch)
    problems = cross_check(results, audit.states)
    if report.lost:
        problems.append(f"{report.lost} order(s) reached no final state")
    report.attach_audit(audit, problems)
    return report
