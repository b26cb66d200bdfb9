"""The database's invariants and drift: ``audit``, ``reconcile``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from orderflow.cli.common import AsJson, Exit, fail, run_async, run_sync, settings_with

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Audit this database instead (default: DATABASE_URL, else the data directory's).",
        show_default=False,
    ),
]


def audit(
    prefix: Annotated[
        str | None, typer.Option(help="Only orders whose id starts so.", show_default=False)
    ] = None,
    legacy: Annotated[
        bool, typer.Option("--legacy", help="Audit the legacy processor's own database.")
    ] = False,
    database_url: DatabaseUrl = None,
    as_json: AsJson = False,
) -> None:
    """Cross-check the database's invariants; exit status 1 if any is violated.

    Names the database it read; a data directory where nothing has run yet is an error
    (exit status 7), never an empty "0 orders" audit.
    """
    settings = settings_with()
    if legacy and database_url:
        fail("refused: give --legacy or --database-url, not both", Exit.REFUSED)
    url = settings.legacy_db_url if legacy else (database_url or settings.db_url)

    def main() -> int:
        from orderflow.bootstrap import build_store
        from orderflow.store.audit import run_audit
        from orderflow.store.db import display_url

        store = build_store(settings, url=url, create=False)
        try:
            report = run_audit(store.engine, order_prefix=prefix)
        finally:
            store.engine.dispose()
        if as_json:
            typer.echo(json.dumps({**report.summary(), "store": display_url(url)}, default=str))
        else:
            typer.echo(
                f"audit of {display_url(url)}: {report.orders_checked} order(s) that moved "
                f"money, stock or a parcel: {report.complete} complete (charged once, "
                f"shipped), {report.clean} clean (nothing kept), "
                f"{len(report.violations)} violation(s)"
            )
            for violation in report.violations:
                typer.echo(f"  ! {violation}")
        return Exit.OK if report.ok else Exit.CHECK_FAILED

    run_sync(main)


def reconcile(
    schedule: Annotated[
        bool, typer.Option("--schedule", help="Create/update the Temporal Schedule instead.")
    ] = False,
    unschedule: Annotated[
        bool, typer.Option("--unschedule", help="Remove the Temporal Schedule.")
    ] = False,
    every: Annotated[float, typer.Option(min=10, help="Seconds between scheduled passes.")] = 600.0,
    repair: Annotated[
        bool,
        typer.Option("--repair/--no-repair", help="Repair the drift that is safe to repair."),
    ] = True,
    stale_after: Annotated[
        float, typer.Option(min=0, help="Seconds before an order without outcome is drift.")
    ] = 3600.0,
    as_json: AsJson = False,
) -> None:
    """Compare the ledger, stock and shipments with order outcomes; report (and repair).

    One pass runs now in a worker (where the store is); exit status 1 when drift is left
    unrepaired, 8 when no worker takes the pass.
    """
    from datetime import timedelta

    from orderflow.workflows.messages import ReconcileRequest

    if schedule and unschedule:
        fail("refused: give --schedule or --unschedule, not both", Exit.REFUSED)
    settings = settings_with()
    request = ReconcileRequest(repair=repair, stale_after_s=stale_after)

    async def main() -> int:
        from orderflow.app.reconciliation import (
            SCHEDULE_ID,
            ensure_schedule,
            reconcile_now,
            remove_schedule,
        )
        from orderflow.bootstrap import connect_client

        client = await connect_client(settings)
        if schedule:
            await ensure_schedule(client, settings.task_queue, timedelta(seconds=every), request)
            typer.echo(f"schedule {SCHEDULE_ID!r}: a reconciliation pass every {every:g}s")
            return Exit.OK
        if unschedule:
            removed = await remove_schedule(client)
            typer.echo(f"schedule {SCHEDULE_ID!r} " + ("removed" if removed else "did not exist"))
            return Exit.OK
        from orderflow.cli.progress import spinner

        with spinner(f"reconciling through a worker on task queue {settings.task_queue!r}"):
            report = await reconcile_now(
                client, settings.task_queue, request, stall_after_s=settings.stall_after_s
            )
        if as_json:
            typer.echo(json.dumps({**report.model_dump(mode="json"), "clean": report.clean}))
        else:
            typer.echo(
                f"checked {report.orders_checked} order(s) in {report.store or 'the store'}: "
                f"{len(report.drift)} drift(s)"
            )
            for line in report.drift:
                typer.echo(f"  ! {line}")
            for line in report.repaired:
                typer.echo(f"  repaired: {line}")
        return Exit.OK if report.clean else Exit.CHECK_FAILED

    run_async(main)
