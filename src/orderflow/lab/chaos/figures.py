"""A campaign's settings (its own loopback ports and data directory) and its figures."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from orderflow.store.audit import AuditSummary

if TYPE_CHECKING:
    from orderflow.config import Settings
    from orderflow.lab.chaos.campaign import ChaosPlan, ChaosRun

#: Ports a campaign never takes: those of the demo's server and Web UI.
RESERVED_PORTS = frozenset({7233, 8233})


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
    #: Refused at the door (invalid orders): never started.
    refused: int
    retries: int
    duplicate_charges: int
    orphaned: int  # charges kept and stock held for orders that did not ship
    oversold_units: int
    lost: int
    seconds: float
    #: Authorize/capture: holds neither captured nor voided, captures above their hold,
    #: refunds above what was taken (each 0 when the money is right).
    holds_left_open: int = 0
    captures_above_authorization: int = 0
    refunds_above_capture: int = 0
    kill_every: float
    mean_kill_interval_s: float
    attempt_timeout_s: float
    data_dir: str
    failure_reasons: dict[str, int] = Field(default_factory=dict)
    audit: AuditSummary = Field(default_factory=AuditSummary)

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
            refused=report.refused,
            retries=report.retries,
            duplicate_charges=audit.duplicate_charges,
            orphaned=audit.orphaned_charges + audit.orphaned_reservations,
            oversold_units=audit.oversold_units,
            holds_left_open=audit.holds_left_open,
            captures_above_authorization=audit.captures_above_authorization,
            refunds_above_capture=audit.refunds_above_capture,
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
            and self.audit.ok
            and self.server_restarts >= self.planned_server_restarts
        )

    def table(self) -> str:
        """The human summary, shaped like the demo's."""
        # Imported here: its imports are not needed at start-up.
        from orderflow.lab.summary import outcome_rows, summary_lines

        rows: list[tuple[str, object]] = [
            ("orders", self.orders),
            ("worker kills survived", self.worker_kills),
            ("server restarts", f"{self.server_restarts} of {self.planned_server_restarts}"),
            *outcome_rows(self),
            ("duplicate charges", self.duplicate_charges),
            ("orphaned charges/stock", self.orphaned),
            ("oversold units", self.oversold_units),
            ("holds left open", self.holds_left_open),
            ("captures above authorization", self.captures_above_authorization),
            ("refunds above capture", self.refunds_above_capture),
            ("money", self.audit.money.line()),
            ("seconds", self.seconds),
            ("audit", "clean" if self.audit.ok else "VIOLATIONS"),
        ]
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
            violations=self.audit.violations,
        )
        lines.append(f"logs and databases: {self.data_dir}")
        return "\n".join(lines)

    def json_line(self) -> str:
        """The machine-readable last line of ``--json`` output."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)


#: The fault campaign's world: everything fails often, some calls hang past the timeout.
HOSTILE: dict[str, float] = {
    "payment_failure_rate": 0.5,
    "inventory_failure_rate": 0.5,
    "shipping_failure_rate": 0.5,
    "lost_response_share": 0.5,
    "slow_share": 0.05,
    "slow_seconds": 5.0,
}
