"""The README's pictures: throughput and latency per variant, and against concurrency.

matplotlib is optional (dependency group ``bench``); without it the plots are skipped
with a message and the figures are still printed.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from orderflow.lab.bench.measure import Figures
from orderflow.lab.bench.runner import LABELS, VARIANTS, BenchRun

MATPLOTLIB_MISSING = (
    "matplotlib is not installed: install the optional 'bench' dependency group "
    "(uv sync --group bench) for the plots"
)

_COLOURS = {
    "floor": "#9e9e9e",
    "bare": "#757575",
    "bare_mixed": "#8d99a3",
    "bare_local": "#b0bec5",
    "naive": "#bcaaa4",
    "orderflow": "#1565c0",
    "orderflow_regular": "#42a5f5",
    "orderflow_local": "#1e88e5",
    "orderflow_gzip": "#90caf9",
    "orderflow_tuned": "#0277bd",
    # The checkout's answer: not a whole order (its orders/s is of answers).
    "checkout": "#00838f",
    "checkout_c10": "#4dd0e1",
    "checkout_api": "#006064",
    "orderflow_memory": "#64b5f6",
    "orderflow_faults": "#5c6bc0",
    "orderflow_fast": "#0d47a1",
    "orderflow_fast_1p": "#5472d3",
    "legacy": "#ef6c00",
    # Peers, each in a colour of its own: DBOS green, the legacy processor orange.
    "dbos": "#2e7d32",
    "dbos_async": "#81c784",
    "restate": "#8e24aa",
}


def _pyplot() -> Any:
    """pyplot on the Agg backend (no display), or None when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_plots(run: BenchRun, out_dir: Path) -> tuple[dict[str, str | None], str | None]:
    """Write bench.png (and bench-sweep.png for a sweep); returns the paths and a reason
    when nothing could be drawn."""
    plt = _pyplot()
    if plt is None:
        return {"bench": None, "sweep": None}, MATPLOTLIB_MISSING
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str | None] = {"bench": None, "sweep": None}
    if run.results:
        path = out_dir / "bench.png"
        _bars(plt, run, path)
        paths["bench"] = str(path)
    if len(run.sweep) > 1:
        path = out_dir / "bench-sweep.png"
        _sweep(plt, run, path)
        paths["sweep"] = str(path)
    return paths, None


def _bars(plt: Any, run: BenchRun, path: Path) -> None:
    names = [name for name in VARIANTS if name in run.results][::-1]  # first on top
    figures = [run.results[name] for name in names]
    labels = [LABELS[name] for name in names]
    colours = [_COLOURS[name] for name in names]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 0.45 * len(names) + 2.2), sharey=True)
    rates = [_finite(f.wps) for f in figures]
    left.barh(labels, rates, color=colours)
    # A linear axis: a log one made 17 and 34 orders/s look alike. The in-process legacy
    # run (no durability) is far beyond the rest; its bar is cut, its figure printed.
    durable = [r for name, r in zip(names, rates, strict=True) if name != "legacy"]
    limit = max([*durable, 1.0]) * 1.25
    left.set_xlim(0, limit)
    for y, rate in enumerate(rates):
        if rate <= limit:
            left.text(rate, y, f" {rate:.1f}", va="center", fontsize=8)
        else:
            left.text(
                limit, y, f" {rate:.0f} →", va="center", ha="right", fontsize=8, color="white"
            )
    left.set_xlabel("orders per second (higher is better; linear)")
    left.grid(axis="x", alpha=0.3)
    p50 = [_finite(f.p50_ms) for f in figures]
    right.barh(labels, p50, color=colours, alpha=0.85)
    right.scatter(
        [_finite(f.p95_ms) for f in figures], labels, marker="|", s=120, c="black", label="p95"
    )
    right.scatter(
        [_finite(f.p99_ms) for f in figures], labels, marker="x", s=30, c="crimson", label="p99"
    )
    right.set_xscale("log")
    right.set_xlabel("end-to-end latency, ms (bar: p50; log scale)")
    # Below the axes, never over a bar.
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2, fontsize=8, frameon=False)
    plan = run.plan
    fig.suptitle(
        f"orderflow bench: {plan.orders} orders per variant at concurrency "
        f"{plan.concurrency} (one {run_host()} machine; compare ratios, not absolutes)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _sweep(plt: Any, run: BenchRun, path: Path) -> None:
    points = sorted(run.sweep)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.6))
    for name in VARIANTS:
        series: list[tuple[int, Figures]] = [
            (c, run.sweep[c][name]) for c in points if name in run.sweep[c]
        ]
        if not series:
            continue
        xs = [c for c, _ in series]
        style = {"color": _COLOURS[name], "marker": "o", "label": LABELS[name]}
        left.plot(xs, [_finite(f.wps) for _, f in series], **style)
        right.plot(xs, [_finite(f.p50_ms) for _, f in series], **style)
    left.set_ylabel("orders per second (linear)")
    right.set_ylabel("p50 latency, ms (log scale)")
    right.set_yscale("log")
    for axis in (left, right):
        axis.set_xlabel("concurrency (orders in flight)")
        axis.set_xticks(points)
        axis.grid(alpha=0.3, which="both")
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    plan = run.plan
    per_point = plan.sweep_orders or plan.orders
    fig.suptitle(
        f"orderflow bench: {per_point} orders per point ({plan.orders} at concurrency "
        f"{plan.concurrency}); one {run_host()} machine, compare ratios, not absolutes",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _finite(value: float) -> float:
    return 0.0 if math.isnan(value) else value


def run_host() -> str:
    """'2-CPU' or similar, for the plot title."""
    return f"{os.cpu_count()}-CPU"
