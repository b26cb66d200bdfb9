"""``orderflow demo`` and ``orderflow legacy``: a batch of orders, then the same summary."""

from __future__ import annotations

from typing import Annotated

import typer

from orderflow.cli.common import (
    Exit,
    InventoryRate,
    LostShare,
    PaymentRate,
    Seed,
    ShippingRate,
    fail,
    faults,
    run_async,
    run_sync,
    seed_or_random,
    settings_with,
    setup_logging,
)

Orders = Annotated[int, typer.Option("--orders", min=1, max=100_000, help="Orders to submit.")]
AsJson = Annotated[
    bool, typer.Option("--json", help="End with one JSON line of figures (for scripts).")
]


def demo(
    orders: Orders = 50,
    seed: Seed = None,
    as_json: AsJson = False,
    payment_failure_rate: PaymentRate = None,
    inventory_failure_rate: InventoryRate = None,
    shipping_failure_rate: ShippingRate = None,
    lost_response_share: LostShare = None,
) -> None:
    """Run a batch of varied orders through Temporal and audit the result.

    Starts the embedded server if none answers (stopping only what it started) and
    always a worker of its own on a task queue of its own, so the fault rates given here
    are the ones in force. Exit status 0 when every order reached a final state and the
    audit is clean, 1 otherwise.
    """
    setup_logging()
    seed = seed_or_random(seed)
    rates = faults(
        payment_failure_rate, inventory_failure_rate, shipping_failure_rate, lost_response_share
    )
    settings = settings_with(seed=seed, **rates)

    async def main() -> int:
        from orderflow.cli.progress import progress
        from orderflow.lab.demo import run_demo
        from orderflow.logs import quiet_core_panics
        from orderflow.temporal.devserver import DevServerError

        quiet_core_panics()
        try:
            with progress("demo", orders) as display:
                run = await run_demo(settings, orders, seed, display.note, display.update)
        except DevServerError as err:
            fail(str(err), Exit.TEMPORAL_DOWN)
        report = run.report
        typer.echo("")
        typer.echo(report.table())
        typer.echo(f"store: {run.store_url}")
        typer.echo(f"Temporal Web UI: {settings.ui_url}")
        from orderflow.cli.stack import sign_in_hint
        from orderflow.temporal.devserver import is_listening

        if is_listening(f"127.0.0.1:{settings.api_port}"):
            typer.echo(f"Console: {settings.console_url} — {sign_in_hint(settings)}")
        else:
            typer.echo(f"(no console on port {settings.api_port}: `orderflow server` runs one)")
        if run.started_server:
            typer.echo("(the embedded server was stopped; `orderflow server` keeps it running)")
        if as_json:
            typer.echo(report.json_line())
        return Exit.OK if report.audit.ok and not report.lost else Exit.CHECK_FAILED

    run_async(main)


def legacy(
    orders: Orders = 50,
    seed: Seed = None,
    as_json: AsJson = False,
    payment_failure_rate: PaymentRate = None,
    inventory_failure_rate: InventoryRate = None,
    shipping_failure_rate: ShippingRate = None,
    lost_response_share: LostShare = None,
) -> None:
    """Run the same batch through the naive processor (retry loops, no compensation)."""
    from orderflow.bootstrap import build_store, build_world
    from orderflow.lab.batch import new_batch_id
    from orderflow.lab.legacy.run import run_legacy_batch
    from orderflow.lab.samples import generate_orders

    setup_logging()
    seed = seed_or_random(seed)
    rates = faults(
        payment_failure_rate, inventory_failure_rate, shipping_failure_rate, lost_response_share
    )
    settings = settings_with(seed=seed, **rates)

    def main() -> int:
        from orderflow.store.db import display_url

        store = build_store(settings, url=settings.legacy_db_url)
        batch = new_batch_id("legacy")
        try:
            report = run_legacy_batch(
                store,
                build_world(store, settings),
                generate_orders(orders, seed, batch),
                batch=batch,
            )
        finally:
            store.engine.dispose()
        typer.echo(report.table())
        typer.echo(
            f"store: {display_url(settings.legacy_db_url)} (the legacy processor's own, never "
            "the shop's; `orderflow audit --legacy` audits it)"
        )
        typer.echo(
            "The legacy processor has no compensation and no idempotency: every violation "
            "above is money or stock a real shop would have to chase by hand."
        )
        if as_json:
            typer.echo(report.json_line())
        return Exit.OK

    run_sync(main)
