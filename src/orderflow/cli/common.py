"""Options and helpers shared by the CLI's commands."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import typer

from orderflow.config import Settings

PaymentRate = Annotated[
    float | None,
    typer.Option(
        "--payment-failure-rate",
        min=0.0,
        max=1.0,
        help="Share of payment gateway calls that fail (default 0.20; 0 disables).",
    ),
]
InventoryRate = Annotated[
    float | None,
    typer.Option(
        "--inventory-failure-rate",
        min=0.0,
        max=1.0,
        help="Share of inventory calls that fail (default 0.15; 0 disables).",
    ),
]
ShippingRate = Annotated[
    float | None,
    typer.Option(
        "--shipping-failure-rate",
        min=0.0,
        max=1.0,
        help="Share of carrier calls that fail (default 0.10; 0 disables).",
    ),
]
LostShare = Annotated[
    float | None,
    typer.Option(
        "--lost-response-share",
        min=0.0,
        max=1.0,
        help="Share of failures that happen after the side effect (default 0.25).",
    ),
]
Seed = Annotated[int | None, typer.Option("--seed", help="Seed for orders and faults.")]


def settings_with(**overrides: Any) -> Settings:
    settings = Settings()
    updates = {key: value for key, value in overrides.items() if value is not None}
    return settings.model_copy(update=updates)


def setup_logging(verbose: bool = True) -> None:
    """Human or JSON logs on stderr, per ``ORDERFLOW_LOG_FORMAT``."""
    from orderflow.logs import setup_logging as configure

    configure(Settings().log_format, logging.INFO if verbose else logging.WARNING)


def exit_now(code: int) -> None:
    """Flush and leave without running interpreter teardown.

    temporalio (sdk-python #300) can crash at interpreter exit in a process that ran a
    worker; the work is done and flushed by now, so skip the teardown.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def run_async(main: Callable[[], Coroutine[Any, Any, int]]) -> None:
    try:
        code = asyncio.run(main())
    except KeyboardInterrupt:
        code = 130
    exit_now(code)
