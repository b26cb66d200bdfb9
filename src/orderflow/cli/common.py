"""What the CLI's commands share: options, settings, exit codes, and the one place where the
application's errors become one line on stderr and a documented exit code."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from enum import IntEnum
from typing import Annotated, Any, NoReturn

import typer

from orderflow.config import Settings


class Exit(IntEnum):
    """Exit codes (documented in docs/cli.md): 0 only on success."""

    OK = 0
    #: A check failed: the audit found violations, reconciliation found drift, a batch
    #: lost orders.
    CHECK_FAILED = 1
    #: Refused input: a bad flag or argument, an invalid order; nothing was started.
    REFUSED = 2
    #: The order ended FAILED, CANCELLED or NEEDS_ATTENTION.
    ORDER_FAILED = 3
    #: No such order.
    NOT_FOUND = 4
    #: The order's state does not allow it (too late to cancel, not awaiting review...).
    CONFLICT = 5
    #: Temporal does not answer.
    TEMPORAL_DOWN = 6
    #: The database does not answer (or does not exist).
    DATABASE_DOWN = 7
    #: Nothing processes the order: no worker on its task queue, or workers that fail it.
    NO_WORKER = 8
    #: A bug in orderflow (the message says where to look).
    INTERNAL = 70
    #: Interrupted (Ctrl-C).
    INTERRUPTED = 130


def _rate(flag: str, what: str, default: str) -> Any:
    return typer.Option(flag, min=0.0, max=1.0, help=f"{what} (default {default}).")


PaymentRate = Annotated[
    float | None,
    _rate("--payment-failure-rate", "Share of payment gateway calls that fail", "0.20; 0 disables"),
]
InventoryRate = Annotated[
    float | None,
    _rate("--inventory-failure-rate", "Share of inventory calls that fail", "0.15; 0 disables"),
]
ShippingRate = Annotated[
    float | None,
    _rate("--shipping-failure-rate", "Share of carrier calls that fail", "0.10; 0 disables"),
]
LostShare = Annotated[
    float | None,
    _rate("--lost-response-share", "Share of failures that happen after the side effect", "0.25"),
]
Seed = Annotated[int | None, typer.Option("--seed", help="Seed for orders and faults.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]


def faults(
    payment: float | None,
    inventory: float | None,
    shipping: float | None,
    lost_share: float | None,
) -> dict[str, float]:
    """The fault flags given on the command line, as settings overrides."""
    given = {
        "payment_failure_rate": payment,
        "inventory_failure_rate": inventory,
        "shipping_failure_rate": shipping,
        "lost_response_share": lost_share,
    }
    return {name: value for name, value in given.items() if value is not None}


def seed_or_random(seed: int | None) -> int:
    """The seed given, or a fresh one (printed by the run, so it can be repeated)."""
    import random

    return seed if seed is not None else random.SystemRandom().randrange(1_000_000)


def settings_with(**overrides: Any) -> Settings:
    """The settings from the environment, with the command's flags (those given) on top.

    Raises:
        typer.Exit: a setting from the environment is invalid (exit code REFUSED).
    """
    from pydantic import ValidationError

    try:
        settings = Settings()
    except ValidationError as err:
        for error in err.errors(include_input=False):
            name = ".".join(str(part) for part in error.get("loc", ())) or "settings"
            typer.echo(f"error: setting {name}: {error.get('msg', 'is invalid')}", err=True)
        raise typer.Exit(Exit.REFUSED) from None
    updates = {key: value for key, value in overrides.items() if value is not None}
    return settings.model_copy(update=updates)


def setup_logging(verbose: bool = True) -> None:
    """Human or JSON logs on stderr, per ``ORDERFLOW_LOG_FORMAT``."""
    from orderflow.logs import setup_logging as configure

    configure(Settings().log_format, logging.INFO if verbose else logging.WARNING)


def say(message: str) -> None:
    """A line for a person on stderr (progress, notes), keeping stdout for results."""
    typer.echo(message, err=True)


def fail(message: str, code: Exit) -> NoReturn:
    """One line on stderr naming what went wrong, then leave the command with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def exit_now(code: int) -> NoReturn:
    """Flush and leave without running interpreter teardown.

    temporalio (sdk-python #300) can crash at interpreter exit in a process that ran a
    worker; the work is done and flushed by now, so skip the teardown.
    """
    from orderflow.logs import flush_stderr

    sys.stdout.flush()
    logging.shutdown()
    flush_stderr()
    os._exit(code)


def exit_code_of(err: BaseException) -> Exit | None:
    """The exit code for an error a door translates (None: not one of ours)."""
    from orderflow.app import errors

    codes: tuple[tuple[type[BaseException], Exit], ...] = (
        (errors.OrderRejected, Exit.REFUSED),
        (errors.OrderNotFound, Exit.NOT_FOUND),
        (errors.AfterSaleNotFound, Exit.NOT_FOUND),
        (errors.ConflictError, Exit.CONFLICT),
        (errors.OrderFailed, Exit.ORDER_FAILED),
        (errors.TemporalUnavailable, Exit.TEMPORAL_DOWN),
        (errors.StoreUnavailable, Exit.DATABASE_DOWN),
        (errors.NoWorker, Exit.NO_WORKER),
    )
    for kind, code in codes:
        if isinstance(err, kind):
            return code
    return None


def report(err: BaseException) -> int:
    """Say what went wrong in one line; the exit code for it."""
    code = exit_code_of(err)
    if code is not None:
        prefix = "refused: " if code is Exit.REFUSED else ""
        typer.echo(f"error: {prefix}{err}", err=True)
        return code
    if os.environ.get("ORDERFLOW_DEBUG"):
        import traceback

        traceback.print_exception(err)
    typer.echo(
        f"error: internal error ({type(err).__name__}: {str(err)[:300]}); this is a bug in "
        "orderflow: rerun with ORDERFLOW_DEBUG=1 for the traceback",
        err=True,
    )
    return Exit.INTERNAL


def run_async(main: Callable[[], Coroutine[Any, Any, int]]) -> NoReturn:
    """Run a command's coroutine; translate errors; leave with its exit code."""
    try:
        code = asyncio.run(main())
    except KeyboardInterrupt:
        code = Exit.INTERRUPTED
    except typer.Exit as stop:
        code = stop.exit_code
    except Exception as err:
        code = report(err)
    exit_now(code)


def run_sync(main: Callable[[], int]) -> NoReturn:
    """Run a synchronous command body; translate errors; leave with its exit code."""
    try:
        code = main()
    except KeyboardInterrupt:
        code = Exit.INTERRUPTED
    except typer.Exit as stop:
        code = stop.exit_code
    except Exception as err:
        code = report(err)
    exit_now(code)
