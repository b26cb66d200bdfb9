"""The database's invariants and drift: ``audit``, ``reconcile``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from orderflow.cli.common import run_async, settings_with


def audit(
    prefix: Annotated[str | None, typer.Option(help="Only orders whose id starts so.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Cross-check the database's invariants; exit status 1 if any is violated."""
    from orderflow.bootstrap import build_store
    from orderflow.store.audit import run_audit

    store = build_store(settings_with())
    report = run_audit(store.engine, order_prefix=prefix)
    if as_json:
        typer.echo(json.dumps(report.summary(), default=str))
    else:
        typer.echo(
            f"audit of {report.orders_checked} order(s): {report.complete} complete, "
            f"{report.clean} clean, {len(report.violations)} violation(s)"
        )
        for violation in report.violations:
            typer.echo(f"  ! {violation}")
    raise typer.Exit(0 if report.ok else 1)


def reconcile(
    schedule: Annotated[
        bool, typer.Option("--schedule", help="Create/update the Temporal Schedule instead.")
    ] = False,
    every: Annotated[float, typer.Option(min=10, help="Seconds between scheduled passes.")] = 600.0,
    repair: Annotated[bool, typer.Option(help="Repair the drift that is safe to repair.")] = True,
    stale_after: Annotated[
        float, typer.Option(min=0, help="Seconds before an order without outcome is drift.")
    ] = 3600.0,
) -> None:
    """Compare the ledger, stock and shipments with order outcomes; report (and repair)."""
    from datetime import timedelta

    from orderflow.app.reconciliation import SCHEDULE_ID, ensure_schedule, reconcile_now
    from orderflow.temporal.client import connect
    from orderflow.workflows.messages import ReconcileRequest

    settings = settings_with()
    request = ReconcileRequest(repair=repair, stale_after_s=stale_after)

    async def main() -> int:
        client = await connect(settings)
        if schedule:
            await ensure_schedule(client, settings.task_queue, timedelta(seconds=every), request)
            typer.echo(f"schedule {SCHEDULE_ID!r}: a reconciliation pass every {every:g}s")
            return 0
        report = await reconcile_now(client, settings.task_queue, request)
        typer.echo(f"checked {report.orders_checked} order(s): {len(report.drift)} drift(s)")
        for line in report.drift:
            typer.echo(f"  ! {line}")
        for line in report.repaired:
            typer.echo(f"  repaired: {line}")
        return 0 if report.clean else 1

    run_async(main)
