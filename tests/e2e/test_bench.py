"""`orderflow bench`: a tiny run through the command checks every figure and the plot.

Values are not asserted (they depend on the machine and its load); their presence and
type are. DBOS figures may be null when the optional package is absent, with a reason.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ORDERFLOW = Path(sys.executable).parent / "orderflow"
VARIANTS = (
    "floor",
    "bare",
    "bare_mixed",
    "bare_local",
    "naive",
    "orderflow",
    "orderflow_regular",
    "orderflow_local",
    "orderflow_gzip",
    "orderflow_tuned",
    "checkout",
    "checkout_c10",
    "checkout_api",
    "orderflow_memory",
    "orderflow_faults",
    "orderflow_fast",
    "orderflow_fast_1p",
    "legacy",
    "dbos",
    "dbos_async",
    "restate",
)
#: The optional `bench` dependency group; Restate's server also needs `make bench-peers`.
OPTIONAL = {"dbos", "dbos_async", "restate"}
PER_VARIANT = ("wps", "p50_ms", "p95_ms", "p99_ms", "server_cpu_ms", "worker_cpu_ms")
RATIOS = (
    "orderflow_vs_bare",
    "orderflow_p50_vs_bare",
    "fast_vs_floor",
    "fast_vs_dbos",
    "orderflow_vs_naive",
    "embedded_vs_memory",
    # The second pass: each mode against its own mix, the gRPC lever, the checkout.
    "orderflow_vs_bare_mixed",
    "orderflow_p50_vs_bare_mixed",
    "orderflow_regular_vs_bare",
    "orderflow_local_vs_bare_local",
    "grpc_none_vs_gzip",
    "tuned_vs_orderflow",
    "fast_vs_dbos_best",
    "fast_vs_restate",
    "checkout_p50_ms",
    "checkout_p99_ms",
    "checkout_api_p50_ms",
    "checkout_api_p99_ms",
)


def bench_command() -> list[str]:
    """``orderflow bench`` once it is registered in the CLI; the module until then."""
    probe = subprocess.run(
        [str(ORDERFLOW), "bench", "--help"], capture_output=True, text=True, timeout=60
    )
    if probe.returncode == 0:
        return [str(ORDERFLOW), "bench"]
    return [sys.executable, "-m", "orderflow.cli.bench"]


def has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.e2e
def test_bench_reports_every_figure_and_writes_the_plot(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    env = {**os.environ, "ORDERFLOW_DATA_DIR": str(tmp_path / "data")}
    args = ["--orders", "8", "--concurrency", "2", "--json", "--out-dir", str(out_dir)]
    args += ["--memory-orders", "20"]
    proc = subprocess.run(
        [*bench_command(), *args, "--max-seconds", "150"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    for variant in VARIANTS:
        if variant in OPTIONAL and figures[f"{variant}_wps"] is None:
            assert figures[f"{variant}_reason"], f"{variant} is null without a reason"
            continue
        for key in PER_VARIANT:
            assert is_number(figures[f"{variant}_{key}"]), (f"{variant}_{key}", figures)
    # A ratio with an optional peer is null only when that peer did not run.
    peer_of = {"fast_vs_dbos": "dbos", "fast_vs_dbos_best": "dbos", "fast_vs_restate": "restate"}
    for key in RATIOS:
        peer_missing = key in peer_of and figures[f"{peer_of[key]}_wps"] is None
        assert is_number(figures[key]) or peer_missing, key
    assert figures["bare_steps"] >= 1
    # The ceiling of the local-activity shape, from bare_local's CPU per order.
    assert is_number(figures["local_ceiling_wps"]) and is_number(figures["local_ceiling_x_floor"])
    # The probe counted the order's local activities too (the bare shape mirrors them all).
    assert figures["probe"]["local_activities"] >= 1
    for key in ("memory_baseline_mb", "memory_final_mb", "memory_peak_mb", "memory_growth_pct"):
        assert is_number(figures[key]), key
    assert figures["memory_orders"] == 20 and len(figures["memory_samples"]) == 10
    assert figures["targets"]["memory_flat"]["target"] == "within +-10"
    assert figures["targets"]["faults_p99_bounded"]["target"]
    png = out_dir / "bench.png"
    if has_matplotlib():
        assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert figures["plot_reason"]  # said why there is no picture
    assert json.loads((out_dir / "results.json").read_text())["orders"] == 8
    # Nothing left behind: the bench's servers and stores lived in a work directory.
    assert not list((tmp_path / "data").glob("bench-work-*"))


def test_bench_scale_prints_each_console_page_at_each_store_size() -> None:
    proc = subprocess.run(
        [str(ORDERFLOW), "bench-scale", "--orders", "20,200", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith("ORDERFLOW_")},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0].split()[-2:] == ["20", "200"]
    for page in ("orders, first page", "overview", "needs a human", "payments"):
        assert any(line.startswith(page) for line in lines), page
    figures = json.loads(lines[-1])
    assert [f["orders"] for f in figures] == [20, 200]
    for size in figures:
        assert all(ms > 0 and math.isfinite(ms) for ms in size["pages_ms"].values())
        # The audit and a reconciliation pass, each timed with its process's peak memory.
        assert set(size["ops_seconds"]) == {"audit", "reconcile"}
        assert all(mib > 0 for mib in size["ops_peak_mib"].values())
    for operation in ("audit (s)", "reconcile peak MiB"):
        assert any(line.startswith(operation) for line in lines), operation
    bad = subprocess.run(
        [str(ORDERFLOW), "bench-scale", "--orders", "many"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "--orders" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.e2e
def test_bench_without_out_dir_writes_into_the_data_dir_never_the_repository(
    tmp_path: Path,
) -> None:
    repo_docs = Path(__file__).resolve().parents[2] / "docs" / "bench"
    before = (
        {p.name: p.stat().st_mtime_ns for p in repo_docs.glob("*")} if repo_docs.exists() else {}
    )
    env = {**os.environ, "ORDERFLOW_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run(
        [*bench_command(), "--orders", "2", "--variants", "floor", "--max-seconds", "30"],
        env=env,
        cwd=Path(__file__).resolve().parents[2],  # from the repository's root, as a user would
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "data" / "bench" / "results.json").exists()
    after = (
        {p.name: p.stat().st_mtime_ns for p in repo_docs.glob("*")} if repo_docs.exists() else {}
    )
    assert after == before
