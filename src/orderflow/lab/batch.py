"""A batch of orders through the order service (the demo, the crash campaign): submit them,
wait for every outcome, audit the database."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence

from temporalio.client import WorkflowFailureError

from orderflow.app.errors import NoWorker, OrderRejected, TemporalUnavailable
from orderflow.app.orders import OrderService
from orderflow.domain.models import Order
from orderflow.domain.status import OrderStatus
from orderflow.lab.samples import stock_targets
from orderflow.lab.summary import RunReport
from orderflow.store import Store
from orderflow.store.audit import COMPLETE, INCONSISTENT, run_audit
from orderflow.workflows.messages import OrderResult


def new_batch_id(mode: str) -> str:
    """A fresh prefix so every run's orders (and workflow ids) are new."""
    return f"{mode}-{uuid.uuid4().hex[:6]}-"


def seed_inventory(store: Store, orders: Sequence[Order], into: str | None = None) -> None:
    """Top stock up to the batch's targets (the scarce SKU stays scarce on purpose).

    ``into``: every SKU's stock in that one warehouse (the legacy processor knows no other).
    """
    targets: dict[tuple[str, str], int] = {}
    for (warehouse, sku), target in stock_targets(orders).items():
        where = (into or warehouse, sku)
        targets[where] = targets.get(where, 0) + target
    available = store.availability()
    for (warehouse, sku), target in targets.items():
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


#: Pause between a campaign's attempts while Temporal is down or restarting.
RETRY_PAUSE_S = 0.5


async def through(
    service: OrderService, order: Order, deadline: float, keep_trying: bool
) -> OrderResult | str | None:
    """One order through the service: its result once final (or parked for an operator),
    ``"refused: ..."`` when the door refused it, a crashed workflow's reason, or None when
    it reached no final state before ``deadline``.

    ``keep_trying`` (the crash campaign): ride out a Temporal server that is down or
    restarting and workers that are being killed, until the deadline.
    """
    while (left := deadline - time.monotonic()) > 0:
        try:
            await service.start(order)
            return await asyncio.wait_for(service.settled(order.order_id), left)
        except OrderRejected as err:
            return f"refused: {err.error_type}: {err}"
        except (TemporalUnavailable, NoWorker):
            if not keep_trying:
                raise
            await asyncio.sleep(RETRY_PAUSE_S)
        except asyncio.TimeoutError:
            return None
        except WorkflowFailureError as err:  # a crashed workflow is a bug; count it
            return f"workflow: WorkflowFailure: {err.cause}"
    return None


async def run_batch(
    service: OrderService,
    orders: Sequence[Order],
    *,
    report: RunReport,
    in_flight: int | None = None,
    timeout: float = 600.0,
    keep_trying: bool = False,
    on_progress: Callable[[RunReport], None] | None = None,
) -> list[OrderResult]:
    """Every order through the service, at most ``in_flight`` open at once, each outcome
    counted in ``report`` as it comes; returns the results (the batch is then audited by
    ``audited``). Used by the demo and by the crash campaign alike."""
    seed_inventory(service.store, orders)
    started = time.monotonic()
    deadline = started + timeout
    gate = asyncio.Semaphore(in_flight or max(1, len(orders)))
    results: list[OrderResult] = []

    async def one(order: Order) -> None:
        async with gate:
            outcome = await through(service, order, deadline, keep_trying)
        if isinstance(outcome, OrderResult):
            results.append(outcome)
            tally(report, outcome)
        elif outcome is not None and outcome.startswith("refused: "):
            report.refused += 1
            report.count_reason(f"door: {outcome.removeprefix('refused: ')}")
        else:
            report.lost += 1
            if outcome:
                report.count_reason(outcome)

    async def progress() -> None:
        assert on_progress is not None
        while True:
            await asyncio.sleep(0.25)
            on_progress(report)

    ticker = asyncio.create_task(progress()) if on_progress else None
    try:
        await asyncio.gather(*(one(order) for order in orders))
    finally:
        if ticker is not None:
            ticker.cancel()
    report.seconds = time.monotonic() - started
    if on_progress:
        on_progress(report)
    return results


def audited(report: RunReport, store: Store, results: Sequence[OrderResult]) -> RunReport:
    """Audit the batch's orders and cross-check each result with the database."""
    audit = run_audit(store.engine, order_prefix=report.batch)
    problems = cross_check(results, audit.states)
    if report.lost:
        problems.append(f"{report.lost} order(s) reached no final state")
    report.attach_audit(audit, problems)
    return report
