"""``orderflow chaos``: the crash campaign, its figures as a table and as one JSON line."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import socket
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import BaseModel, Field

from orderflow.cli.common import (
    InventoryRate,
    LostShare,
    PaymentRate,
    Seed,
    ShippingRate,
    run_async,
    settings_with,
    setup_logging,
)

if TYPE_CHECKING:
    from orderflow.config import Settings
    from orderflow.lab.chaos import ChaosPlan, ChaosRun

#: Ports a campaign never takes: those of the demo's server and Web UI.
RESERVED_PORTS = frozenset({7233, 8233})

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


def free_port(taken: Sequence[int] = ()) -> int:
    """A free loopback port from the OS, never a reserved or already chosen one."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in RESERVED_PORTS and port not in taken:
            return port


def campaign_settings(base: Settings) -> Settings:
    """The base settings moved to a fresh data directory, its own SQLite store and ports.

    A running demo server (7233/8233) and any configured database are left alone.
    """
    port = free_port()
    return base.model_copy(
        update={
            "data_dir": base.data_dir / f"chaos-{uuid.uuid4().hex[:6]}",
            "database_url": "",  # the SQLite file in the campaign's own directory
            "temporal_address": f"127.0.0.1:{port}",
            "temporal_namespace": "default",
            "ui_port": free_port([port]),
            "task_queue": "chaos",
            "metrics_port": 0,
        }
    )


class ChaosFigures(BaseModel):
    """What ``orderflow chaos`` prints: the campaign's figures and the audit's verdict."""

    batch: str
    orders: int
    worker_kills: int
    worker_exits: int
    server_restarts: int
    planned_server_restarts: int
    completed: int
    failed: int
    compensated: int
    needs_attention: int
    cancelled: int
    retries: int
    duplicate_charges: int
    orphaned: int  # charges kept and stock held for orders that did not ship
    oversold_units: int
    lost: int
    seconds: float
    kill_every: float
    mean_kill_interval_s: float
    attempt_timeout_s: float
    data_dir: str
    failure_reasons: dict[str, int] = Field(default_factory=dict)
    audit: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_run(cls, run: ChaosRun, plan: ChaosPlan, attempt_timeout_s: float) -> ChaosFigures:
        """Figures from a finished campaign."""
        report, audit = run.report, run.report.audit
        return cls(
            batch=report.batch,
            orders=report.orders,
            worker_kills=run.worker_kills,
            worker_exits=run.worker_exits,
            server_restarts=run.server_restarts,
            planned_server_restarts=plan.server_restarts,
            completed=report.completed,
            failed=report.failed,
            compensated=report.compensated,
            needs_attention=report.needs_attention,
            cancelled=report.cancelled,
            retries=report.retries,
            duplicate_charges=audit["duplicate_charges"],
            orphaned=audit["orphaned_charges"] + audit["orphaned_reservations"],
            oversold_units=audit["oversold_units"],
            lost=report.lost,
            seconds=round(report.seconds, 1),
            kill_every=plan.kill_every,
            mean_kill_interval_s=round(run.mean_kill_interval_s, 1),
            attempt_timeout_s=attempt_timeout_s,
            data_dir=str(run.data_dir),
            failure_reasons=report.failure_reasons,
            audit=audit,
        )

    @property
    def ok(self) -> bool:
        """Nothing lost, a clean audit, and every planned server restart happened."""
        return (
            self.lost == 0
            and bool(self.audit.get("ok"))
            and self.server_restarts >= self.planned_server_restarts
        )

    def table(self) -> str:
        """The human summary, shaped like the demo's."""
        rows: list[tuple[str, object]] = [
            ("orders", self.orders),
            ("worker kills survived", self.worker_kills),
            ("server restarts", f"{self.server_restarts} of {self.planned_server_restarts}"),
            ("completed", self.completed),
            ("failed", self.failed),
            ("  of which compensated", self.compensated),
            ("needs attention", self.needs_attention),
            ("lost (no final state)", self.lost),
            ("retries", self.retries),
            ("duplicate charges", self.duplicate_charges),
            ("orphaned charges/stock", self.orphaned),
            ("oversold units", self.oversold_units),
            ("seconds", self.seconds),
            ("audit", "clean" if self.audit.get("ok") else "VIOLATIONS"),
        ]
        from orderflow.lab.summary import summary_lines  # its imports are not needed at start-up

        lines = summary_lines(
            f"chaos summary (batch {self.batch})",
            rows,
            notes=[
                f"(each worker SIGKILLed {self.kill_every:g}s ±50% after it polls, a kill "
                f"every {self.mean_kill_interval_s:g}s on average; {self.worker_exits} exited "
                f"on their own and were restarted; per-attempt timeout "
                f"{self.attempt_timeout_s:g}s for steps and compensations, default max "
                "attempts)"
            ],
            failure_reasons=self.failure_reasons,
            violations=self.audit.get("violations", []),
        )
        lines.append(f"logs and databases: {self.data_dir}")
        return "\n".join(lines)

    def json_line(self) -> str:
        """The machine-readable last line of ``--json`` output."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)


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
    from orderflow.lab.chaos import ATTEMPT_TIMEOUT_MS, Campaign, ChaosError
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
        run = await Campaign(plan, settings, typer.echo).run()
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


#: The fault campaign's world: everything fails often, some calls hang past the timeout.
HOSTILE: dict[str, float] = {
    "payment_failure_rate": 0.5,
    "inventory_failure_rate": 0.5,
    "shipping_failure_rate": 0.5,
    "lost_response_share": 0.5,
    "slow_share": 0.05,
    "slow_seconds": 5.0,
}


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
            "acting), 5%% of calls hang past the attempt timeout, so compensations fail "
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
    from orderflow.lab.chaos import ChaosPlan

    setup_logging()
    seed = seed if seed is not None else random.SystemRandom().randrange(1_000_000)
    hostile_rates = HOSTILE if hostile else {}
    settings = settings_with(
        seed=seed,
        **hostile_rates,
        **{
            key: value
            for key, value in {
                "payment_failure_rate": payment_failure_rate,
                "inventory_failure_rate": inventory_failure_rate,
                "shipping_failure_rate": shipping_failure_rate,
                "lost_response_share": lost_response_share,
            }.items()
            if value is not None
        },
    )
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
