"""``orderflow chaos``: the crash campaign, its figures as a table and as one JSON line."""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING, Annotated

import typer

from orderflow.cli.common import (
    InventoryRate,
    LostShare,
    PaymentRate,
    Seed,
    ShippingRate,
    faults,
    run_async,
    seed_or_random,
    settings_with,
    setup_logging,
)

if TYPE_CHECKING:
    from orderflow.config import Settings
    from orderflow.lab.chaos.campaign import ChaosPlan

Orders = Annotated[
    int, typer.Option("--orders", min=1, max=100_000, help="Orders in the campaign.")
]
AsJson = Annotated[
    bool, typer.Option("--json", help="End with one JSON line of figures (for scripts).")
]
KillEvery = Annotated[
    float,
    typer.Option(
        "--kill-every",
        min=0.1,
        max=3600.0,
        help="Mean seconds a worker polls before it is SIGKILLed and restarted (uniform "
        "±50%); with 2+ workers the only one polling waits until another polls.",
    ),
]
ServerRestarts = Annotated[
    int,
    typer.Option(
        "--server-restarts",
        min=0,
        max=20,
        help="Times the Temporal server is SIGKILLed and restarted mid-run.",
    ),
]
MaxSeconds = Annotated[
    float,
    typer.Option(
        "--max-seconds",
        min=10.0,
        max=86_400.0,
        help="Time limit; orders without a final state by then count as lost.",
    ),
]
Workers = Annotated[
    int,
    typer.Option(
        "--workers",
        min=1,
        max=16,
        help="Worker processes on one queue (with 1, nothing polls while it restarts).",
    ),
]
InFlight = Annotated[
    int,
    typer.Option(
        "--in-flight",
        min=1,
        max=10_000,
        help="Orders open at once; the rest are submitted as these finish.",
    ),
]


def cancel_on_sigterm() -> asyncio.Event:
    """SIGTERM cancels the running task (so the campaign stops its processes); the event
    tells it was SIGTERM rather than Ctrl-C."""
    task = asyncio.current_task()
    assert task is not None
    terminated = asyncio.Event()

    def on_sigterm() -> None:
        terminated.set()
        task.cancel()

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, on_sigterm)
    return terminated


async def run_campaign(plan: ChaosPlan, settings: Settings, as_json: bool) -> int:
    """Run the campaign, print its figures; the exit status."""
    from orderflow.cli.progress import progress
    from orderflow.lab.chaos.campaign import ATTEMPT_TIMEOUT_MS, Campaign, ChaosError
    from orderflow.lab.chaos.figures import ChaosFigures
    from orderflow.temporal.devserver import DevServerError

    terminated = cancel_on_sigterm()
    typer.echo(
        f"faults: payment {settings.payment_failure_rate:.0%}, inventory "
        f"{settings.inventory_failure_rate:.0%}, shipping {settings.shipping_failure_rate:.0%}"
        f" (lost-response share {settings.lost_response_share:.0%}), seed {plan.seed}"
    )
    typer.echo(
        f"chaos: {plan.orders} orders, {plan.workers} worker process(es), Temporal on "
        f"{settings.temporal_address}; logs and databases in {settings.data_dir}"
    )
    try:
        with progress("chaos", plan.orders) as display:
            run = await Campaign(plan, settings, display.note, display.update).run()
    except (ChaosError, DevServerError) as err:
        typer.echo(f"error: {err}", err=True)
        return 1
    except asyncio.CancelledError:  # Ctrl-C or SIGTERM: the campaign stopped its processes
        typer.echo("chaos: interrupted; its server and workers were stopped", err=True)
        if terminated.is_set():
            return 143
        raise
    figures = ChaosFigures.from_run(run, plan, ATTEMPT_TIMEOUT_MS / 1000)
    typer.echo("")
    typer.echo(figures.table())
    if as_json:
        typer.echo(figures.json_line())
    return 0 if figures.ok else 1


def chaos(
    orders: Orders = 500,
    seed: Seed = None,
    as_json: AsJson = False,
    kill_every: KillEvery = 3.0,
    server_restarts: ServerRestarts = 1,
    max_seconds: MaxSeconds = 1200.0,
    workers: Workers = 2,
    in_flight: InFlight = 200,
    payment_failure_rate: PaymentRate = None,
    inventory_failure_rate: InventoryRate = None,
    shipping_failure_rate: ShippingRate = None,
    lost_response_share: LostShare = None,
    hostile: Annotated[
        bool,
        typer.Option(
            "--hostile",
            help="Fault campaign: every service fails half its calls (half of those after "
            "acting), 5% of calls hang past the attempt timeout, so compensations fail "
            "for a while too. Explicit rate flags still win.",
        ),
    ] = False,
) -> None:
    """Crash campaign: orders while workers and the server are SIGKILLed.

    Runs on loopback in a fresh chaos-<id> folder of the data directory,
    with its own SQLite-persisted Temporal server on free ports (never
    7233/8233) and its own worker processes, and stops them all at the end.
    Steps and compensations get a 3 s per-attempt timeout (default max
    attempts), so a killed worker's attempts are retried soon.

    Exit status 0 only if no order was lost, the audit is clean and every
    planned server restart happened.
    """
    from orderflow.lab.chaos.campaign import ChaosPlan
    from orderflow.lab.chaos.figures import HOSTILE, campaign_settings

    setup_logging()
    seed = seed_or_random(seed)
    hostile_rates = HOSTILE if hostile else {}
    rates = faults(
        payment_failure_rate, inventory_failure_rate, shipping_failure_rate, lost_response_share
    )
    settings = settings_with(seed=seed, **{**hostile_rates, **rates})
    plan = ChaosPlan(
        orders=orders,
        seed=seed,
        kill_every=kill_every,
        server_restarts=server_restarts,
        max_seconds=max_seconds,
        workers=workers,
        in_flight=in_flight,
    )
    settings = campaign_settings(settings)
    run_async(lambda: run_campaign(plan, settings, as_json))
