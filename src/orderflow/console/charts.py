"""Charts as geometry for the templates' SVG (no script, no library): bars per minute, and
horizontal bars per failure reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orderflow.app.views import Minute

WIDTH, HEIGHT = 600, 140


@dataclass(frozen=True)
class Bar:
    """One rectangle of a chart, with the words a screen reader and a tooltip get."""

    x: float
    y: float
    width: float
    height: float
    kind: str
    label: str


@dataclass(frozen=True)
class Chart:
    """Bars in a WIDTH x HEIGHT box, with the largest value for the axis."""

    bars: list[Bar]
    peak: int
    width: int = WIDTH
    height: int = HEIGHT


def per_minute(minutes: Sequence[Minute]) -> Chart:
    """Completed (bottom) and failed or cancelled (on top) orders per minute, last hour."""
    peak = max([m.completed + m.failed for m in minutes] + [1])
    slot = WIDTH / max(1, len(minutes))
    bars: list[Bar] = []
    for index, minute in enumerate(minutes):
        x = index * slot + 1
        done = HEIGHT * minute.completed / peak
        failed = HEIGHT * minute.failed / peak
        when = minute.at.strftime("%H:%M")
        if minute.completed:
            bars.append(
                Bar(x, HEIGHT - done, slot - 2, done, "ok", f"{when}: {minute.completed} completed")
            )
        if minute.failed:
            bars.append(
                Bar(
                    x,
                    HEIGHT - done - failed,
                    slot - 2,
                    failed,
                    "bad",
                    f"{when}: {minute.failed} failed or cancelled",
                )
            )
    return Chart(bars=bars, peak=peak)


def reasons(counts: Sequence[tuple[str, int]]) -> Chart:
    """One horizontal bar per failure reason, the most frequent first."""
    rows = list(counts)[:8]
    peak = max([n for _, n in rows] + [1])
    row_height = 22
    bars = [
        Bar(170, index * row_height + 3, (WIDTH - 220) * n / peak, row_height - 6, "bad", f"{kind}")
        for index, (kind, n) in enumerate(rows)
    ]
    return Chart(bars=bars, peak=peak, height=max(row_height, len(rows) * row_height))
