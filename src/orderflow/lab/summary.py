"""The run summary shared by ``demo`` and ``legacy``: tally, human table, JSON line."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from orderflow.store.audit import AuditReport, AuditSummary
from orderflow.workflows.messages import OrderResult


def summary_lines(
    title: str,
    rows: Sequence[tuple[str, object]],
    *,
    notes: Sequence[str] = (),
    failure_reasons: Mapping[str, int],
    violations: Sequence[str],
) -> list[str]:
    """A run's summary: aligned rows, notes, failure reasons, the first 10 violations."""
    width = max(len(label) for label, _ in rows)
    lines = [title, "-" * (width + 24)]
    lines += [f"{label:<{width}}  {value}" for label, value in rows]
    lines += notes
    if failure_reasons:
        reasons = sorted(failure_reasons.items())
        lines.append("failure reasons: " + ", ".join(f"{r} x{n}" for r, n in reasons))
    lines += [f"  ! {violation}" for violation in violations[:10]]
    if len(violations) > 10:
        lines.append(f"  ! ... and {len(violations) - 10} more")
    return lines


def outcome_rows(counts: Any) -> list[tuple[str, object]]:
    """The rows every run's summary shows (a ``RunReport``, the chaos figures)."""
    return [
        ("completed", counts.completed),
        ("failed", counts.failed),
        ("  of which compensated", counts.compensated),
        ("refused at the door", counts.refused),
        ("needs attention", counts.needs_attention),
        ("lost (no final state)", counts.lost),
        ("retries", counts.retries),
    ]


class RunReport(BaseModel):
    """What a batch of orders came to."""

    mode: str
    batch: str
    orders: int = 0
    completed: int = 0
    failed: int = 0
    compensated: int = 0
    needs_attention: int = 0
    cancelled: int = 0
    #: Refused at the door (invalid): never started, nothing charged or reserved.
    refused: int = 0
    lost: int = 0
    retries: int = 0
    failure_reasons: dict[str, int] = Field(default_factory=dict)
    seconds: float = 0.0
    #: Not yet audited: ``ok`` False and no figures.
    audit: AuditSummary = Field(default_factory=AuditSummary)
    ui_url: str | None = None

    def count_failure(self, result: OrderResult) -> None:
        """Tally a failed order by its error type and the step that failed."""
        key = f"{result.error_type or 'Unknown'} at {result.failed_step or 'unknown step'}"
        counts = Counter(self.failure_reasons)
        counts[key] += 1
        self.failure_reasons = dict(counts)

    def count_reason(self, reason: str) -> None:
        """Tally a failure reason by its error type (the part before the message)."""
        parts = reason.split(":", 2)
        key = f"{parts[1].strip()} at {parts[0]}" if len(parts) == 3 else reason
        counts = Counter(self.failure_reasons)
        counts[key] += 1
        self.failure_reasons = dict(counts)

    @property
    def finished(self) -> int:
        """Orders with an outcome so far (lost ones included)."""
        return (
            self.completed
            + self.failed
            + self.needs_attention
            + self.cancelled
            + self.refused
            + self.lost
        )

    def progress_line(self, done: int) -> str:
        """One line of live progress."""
        return (
            f"  progress {done}/{self.orders}: completed {self.completed} | failed {self.failed}"
            f" | compensated {self.compensated} | refused {self.refused}"
            f" | needs attention {self.needs_attention} | retries {self.retries}"
        )

    def attach_audit(self, audit: AuditReport, extra: list[str]) -> None:
        """Record the audit verdict plus cross-check violations found by the runner."""
        self.audit = audit.with_problems(extra)

    def table(self) -> str:
        """A plain-text summary table."""
        rate = self.orders / self.seconds if self.seconds else 0.0
        rows = [
            ("orders", self.orders),
            *outcome_rows(self),
            ("seconds", f"{self.seconds:.1f} ({rate:.1f} orders/s)"),
            ("duplicate charges", self.audit.duplicate_charges),
            ("charged but not shipped", self.audit.orphaned_charges),
            ("stock held for failed orders", self.audit.orphaned_reservations),
            ("holds left open", self.audit.holds_left_open),
            ("captures above authorization", self.audit.captures_above_authorization),
            ("refunds above capture", self.audit.refunds_above_capture),
            ("money authorized", self.audit.money.authorized),
            ("money captured", self.audit.money.captured),
            ("money voided", self.audit.money.voided),
            ("money refunded", self.audit.money.refunded),
            *(
                [("money charged at once", self.audit.money.charged)]
                if self.audit.money.charged
                else []
            ),
            ("audit", "clean" if self.audit.ok else "VIOLATIONS"),
        ]
        return "\n".join(
            summary_lines(
                f"{self.mode} summary (batch {self.batch})",
                rows,
                failure_reasons=self.failure_reasons,
                violations=self.audit.violations,
            )
        )

    def json_line(self) -> str:
        """The machine-readable last line of ``--json`` output."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)
