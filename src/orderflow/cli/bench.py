"""``orderflow bench``: orderflow against the engine floor, the bare shape and its peers
(the measuring itself lives in ``orderflow.lab.bench``)."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import signal
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from orderflow.cli.common import Seed, exit_now, run_async, settings_with, setup_logging

#: Every variant (``orderflow.lab.bench.runner.VARIANTS``, spelled out so that the CLI's
#: help does not import the lab; tests/unit/test_bench_cli.py keeps the two equal).
_ALL = (
    "floor,bare,bare_mixed,bare_local,naive,orderflow,orderflow_regular,orderflow_local,"
    "orderflow_gzip,orderflow_tuned,checkout,checkout_c10,checkout_api,orderflow_memory,"
    "orderflow_faults,"
    "orderflow_fast,orderflow_fast_1p,legacy,dbos,dbos_async,restate"
)

Orders = Annotated[
    int, typer.Option("--orders", min=1, max=5_000, help="Orders per variant (measured).")
]
Concurrency = Annotated[
    int, typer.Option("--concurrency", min=1, max=200, help="Orders in flight at once.")
]
Sweep = Annotated[
    str | None,
    typer.Option("--sweep", help="Also measure at these concurrencies, e.g. 1,5,10,20 (plotted)."),
]
SweepOrders = Annotated[
    int | None,
    typer.Option(
        "--sweep-orders", min=1, max=5_000, help="Orders per sweep point (default: --orders)."
    ),
]
Variants = Annotated[
    str | None,
    typer.Option("--variants", help=f"Comma-separated subset of: {_ALL} (default: all)."),
]
Rounds = Annotated[
    int,
    typer.Option(
        "--rounds", min=1, max=10, help="Repeat the variants, interleaved; report medians."
    ),
]
MaxSeconds = Annotated[
    float,
    typer.Option(
        "--max-seconds", min=5.0, max=7_200.0, help="Stop measuring after this long in all."
    ),
]
OutDir = Annotated[
    Path | None,
    typer.Option(
        "--out-dir",
        help="Where bench.png, bench-sweep.png, results.json and results.md go "
        "(default: <data dir>/bench).",
    ),
]
MemoryOrders = Annotated[
    int,
    typer.Option(
        "--memory-orders",
        min=0,
        max=50_000,
        help="Also run this many orders through one `orderflow worker` process and report "
        "its resident memory across the run (0: skip).",
    ),
]
AsJson = Annotated[
    bool, typer.Option("--json", help="End with one JSON line of figures (for scripts).")
]
KeepWork = Annotated[
    bool, typer.Option("--keep-work", help="Keep the servers' and stores' files (debugging).")
]


def parse_list(text: str | None, what: str) -> list[str]:
    """Comma-separated items, stripped, empty ones dropped."""
    items = [item.strip() for item in (text or "").split(",") if item.strip()]
    if text is not None and not items:
        raise typer.BadParameter(f"{what}: give at least one value")
    return items


def bench(
    orders: Orders = 200,
    concurrency: Concurrency = 10,
    sweep: Sweep = None,
    sweep_orders: SweepOrders = None,
    variants: Variants = None,
    rounds: Rounds = 1,
    max_seconds: MaxSeconds = 900.0,
    memory_orders: MemoryOrders = 0,
    out_dir: OutDir = None,
    seed: Seed = None,
    as_json: AsJson = False,
    keep_work: KeepWork = False,
) -> None:
    """Measure orders/s, latency and CPU per order of orderflow and its baselines.

    On one embedded Temporal dev server (SQLite, loopback, free ports; plus an in-memory
    one for comparison): the engine floor (empty workflows), the bare shape (no-op
    activities, as many as an order runs), the naive Temporal version, orderflow with
    faults off, with the default faults and in its fastest configuration; and in process:
    the legacy processor and DBOS Transact (when installed). Bounded by --orders and
    --max-seconds; stops everything it started. Writes bench.png (and bench-sweep.png).
    """
    from orderflow.lab.bench.plot import write_plots
    from orderflow.lab.bench.report import json_figures, markdown, table
    from orderflow.lab.bench.runner import DEFAULT_VARIANTS, VARIANTS, BenchPlan, run_bench

    chosen = parse_list(variants, "--variants") or list(DEFAULT_VARIANTS)
    unknown = sorted(set(chosen) - set(VARIANTS))
    if unknown:
        raise typer.BadParameter(
            f"unknown variant(s) {', '.join(unknown)}; choose from {_ALL}", param_hint="--variants"
        )
    try:
        points = sorted({int(p) for p in parse_list(sweep, "--sweep")})
    except ValueError as err:
        raise typer.BadParameter(
            "give whole numbers, e.g. 1,5,10,20", param_hint="--sweep"
        ) from err
    if any(p < 1 or p > 200 for p in points):
        raise typer.BadParameter("concurrencies go from 1 to 200", param_hint="--sweep")
    if points and concurrency not in points:
        points = sorted({*points, concurrency})

    setup_logging(verbose=False)
    # Injected faults log a warning per retry by design; here they would bury the table.
    for name in ("orderflow", "temporalio"):
        logging.getLogger(name).setLevel(logging.ERROR)
    settings = settings_with()
    # Never the repository's committed figures unless asked (--out-dir docs/bench).
    target = out_dir or settings.data_dir / "bench"
    work = settings.data_dir / f"bench-work-{uuid.uuid4().hex[:6]}"
    plan = BenchPlan(
        orders=orders,
        concurrency=concurrency,
        variants=tuple(chosen),
        sweep=tuple(points),
        rounds=rounds,
        sweep_orders=sweep_orders,
        max_seconds=max_seconds,
        memory_orders=memory_orders,
        seed=7 if seed is None else seed,
        settings=settings,
        work_dir=work,
    )

    async def main() -> int:
        # SIGTERM cancels the run, so the servers, workers and DBOS it started are stopped
        # by their context managers instead of being orphaned.
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        from orderflow.cli.progress import progress
        from orderflow.logs import quiet_core_panics

        quiet_core_panics()  # in-process workers stop and start between variants
        try:
            with progress("bench", 1) as display:

                def line(text: str) -> None:
                    if display.live:
                        display.note(text)
                    else:
                        typer.echo(text, err=True)

                run = await run_bench(plan, line, display.step)
        except asyncio.CancelledError:
            typer.echo("bench stopped: everything it started was stopped", err=True)
            return 143
        finally:
            if not keep_work:
                shutil.rmtree(work, ignore_errors=True)
        plots, missing = write_plots(run, target)
        if missing:
            typer.echo(f"no plot: {missing}", err=True)
        figures = json_figures(run, plots)
        if missing:
            figures["plot_reason"] = missing
        target.mkdir(parents=True, exist_ok=True)
        (target / "results.json").write_text(json.dumps(figures, indent=2) + "\n")
        (target / "results.md").write_text(markdown(run, plots))
        typer.echo(table(run))
        for path in (p for p in plots.values() if p):
            typer.echo(f"plot: {path}")
        typer.echo(f"results: {target / 'results.json'}, {target / 'results.md'}")
        if keep_work:
            typer.echo(f"work files kept in {work}")
        if as_json:
            typer.echo(json.dumps(figures))
        return 0

    try:
        run_async(main)
    except Exception as err:  # pragma: no cover - reported, then a clean exit status
        typer.echo(f"error: {type(err).__name__}: {err}", err=True)
        exit_now(1)


def bench_scale(
    orders: Annotated[
        str,
        typer.Option("--orders", help="Store sizes to measure at, comma-separated."),
    ] = "1000,100000",
    seed: Seed = None,
    as_json: AsJson = False,
) -> None:
    """Time the console's pages (order list, overview, queue, payments) over a store of
    1,000 and 100,000 orders (SQLite in a temporary directory; rows, not workflows)."""
    import tempfile

    from orderflow.bootstrap import build_store
    from orderflow.lab.bench.scale import run_scale, table

    try:
        sizes = [int(size.replace("_", "")) for size in parse_list(orders, "--orders")]
    except ValueError as err:
        raise typer.BadParameter(
            "give whole numbers, e.g. 1000,100000", param_hint="--orders"
        ) from err
    if any(not 1 <= size <= 5_000_000 for size in sizes):
        raise typer.BadParameter("sizes go from 1 to 5,000,000", param_hint="--orders")
    setup_logging(verbose=False)
    logging.getLogger("orderflow").setLevel(logging.ERROR)
    settings = settings_with()
    with tempfile.TemporaryDirectory(prefix="orderflow-scale-") as work:

        def make_store(size: int) -> Any:
            return build_store(settings.model_copy(update={"data_dir": Path(work) / str(size)}))

        results = run_scale(sizes, make_store, settings, seed if seed is not None else 7)
    typer.echo(table(results))
    if as_json:
        typer.echo(json.dumps([r.__dict__ for r in results]))
