"""Orders: ``submit``, ``status``, ``list``, ``cancel``, ``approve``, ``reject``, ``resolve``.

Each command reads its arguments, makes one call of the order service and prints the
answer (``--json`` for scripts); errors become one line on stderr and an exit code
(``orderflow.cli.common.Exit``).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orderflow.cli.common import AsJson, Exit, fail, run_async, say, settings_with

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from orderflow.app.orders import OrderService
    from orderflow.workflows.messages import OrderState

OrderId = Annotated[str, typer.Argument(help="The order id.", show_default=False)]
ShowPersonal = Annotated[
    bool,
    typer.Option(
        "--show-personal", help="Also show the customer's name and address (never the token)."
    ),
]
#: Seconds between two looks at an order a command waits for.
FOLLOW_EVERY_S = 0.5


def read_order_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of an order file ('-': standard input), at most ``max_bytes`` + 1 read.

    Raises:
        OrderRejected: the file cannot be read (missing, a directory, no permission).
    """
    from orderflow.app.errors import OrderRejected

    if str(path) == "-":
        return sys.stdin.buffer.read(max_bytes + 1)
    try:
        with path.open("rb") as handle:
            return handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise OrderRejected.one("file", f"no such file: {str(path)[:200]}") from None
    except IsADirectoryError:
        raise OrderRejected.one("file", f"is a directory, not an order file: {path}") from None
    except OSError as err:
        raise OrderRejected.one("file", f"cannot be read: {err.strerror}") from None


async def follow(service: OrderService, order_id: str, quiet: bool) -> OrderState:
    """Watch the order until it is final or waits for a person; say each change on stderr."""
    from orderflow.app.errors import NoWorker
    from orderflow.cli.render import step_line
    from orderflow.domain.status import OrderStatus

    seen: tuple[object, str] | None = None
    while True:
        state = await service.status(order_id)
        if state.seen_in == "database":
            # Nothing answers for the running order (no worker, or none that can run it):
            # the watch said why; waiting on would be a silent hang.
            raise NoWorker(state.note, task_queue=service.task_queue, accepted=True)
        if (state.status, state.step) != seen and not quiet:
            say(step_line(state))
        seen = (state.status, state.step)
        if state.status.terminal or state.status is OrderStatus.AWAITING_REVIEW:
            return state
        await asyncio.sleep(FOLLOW_EVERY_S)


def submit(
    file: Annotated[
        Path,
        typer.Argument(help="Order JSON file ('-' reads standard input).", show_default=False),
    ],
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait",
            help="Wait until the order is final (or waits for review) and print it.",
        ),
    ] = True,
    as_json: AsJson = False,
) -> None:
    """Submit one order from a JSON file; submitting the same order id twice is safe.

    The order is checked first (unknown fields, types, the business rules): a refused
    order names the field and the rule, and nothing is started, charged or reserved.
    Exit status 0 when the order completes (or is accepted, with --no-wait, or waits for
    review), 3 when it fails or is cancelled; see `orderflow --help` for the others.
    """
    from orderflow.app.intake import parse_order
    from orderflow.app.orders import new_order_id

    settings = settings_with()

    async def main() -> int:
        from orderflow.app.errors import NoWorker, OrderFailed
        from orderflow.bootstrap import connected_service
        from orderflow.cli.render import dumps, priced_line, state_json, state_text
        from orderflow.domain.status import OrderStatus

        intake = parse_order(
            read_order_file(file, settings.max_body_bytes), max_bytes=settings.max_body_bytes
        )
        order = intake.to_order(intake.order_id or new_order_id())
        async with connected_service(settings) as service:
            try:
                submission = await service.submit(order)
            except NoWorker as stalled:
                if wait or not stalled.accepted:
                    raise
                # --no-wait: the order is accepted (durably); it runs once a worker does.
                typer.echo(f"order {order.order_id}: accepted")
                say(f"note: {stalled}")
                return Exit.OK
            except OrderFailed as failed:  # accepted, then failed before it was priced
                state = await service.status(order.order_id)
                if as_json:
                    typer.echo(dumps({**state_json(state), "new": True}))
                else:
                    typer.echo(state_text(state))
                say(f"error: order {order.order_id}: {failed}")
                return Exit.ORDER_FAILED
            if not wait:
                if as_json:
                    answer = submission.order.model_dump(mode="json")
                    typer.echo(dumps({**answer, "new": submission.new}))
                else:
                    typer.echo(priced_line(submission.order, new=submission.new))
                idle = await service.no_worker()
                if idle is not None:  # accepted (durably): it runs once a worker does
                    say(f"note: order {order.order_id} is accepted but {idle}")
                return Exit.OK
            if not as_json:
                typer.echo(priced_line(submission.order, new=submission.new))
                say(f"waiting for order {order.order_id} (Ctrl-C stops waiting; the order goes on)")
            state = await follow(service, order.order_id, quiet=as_json)
        if as_json:
            typer.echo(dumps({**state_json(state), "new": submission.new}))
        else:
            typer.echo(state_text(state))
        if state.status in (OrderStatus.COMPLETED, OrderStatus.AWAITING_REVIEW):
            return Exit.OK
        return Exit.ORDER_FAILED

    run_async(main)


def status(order_id: OrderId, show_personal: ShowPersonal = False, as_json: AsJson = False) -> None:
    """Show an order's status, current step, attempts, parcels and compensations.

    A finished order is read from its history: no worker needs to run.
    """
    settings = settings_with()

    async def main() -> int:
        from orderflow.bootstrap import connected_service
        from orderflow.cli.render import dumps, state_json, state_text

        async with connected_service(settings) as service:
            state = await service.status(order_id)
        if as_json:
            typer.echo(dumps(state_json(state, show_personal=show_personal)))
        else:
            typer.echo(state_text(state, show_personal=show_personal))
        if state.note:
            say(f"note: {state.note}")
        return Exit.OK

    run_async(main)


def list_orders(
    status: Annotated[
        str | None,
        typer.Option(
            help="Only orders in this status (e.g. COMPLETED, FAILED).", show_default=False
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 50,
    as_json: AsJson = False,
) -> None:
    """List orders, newest first, filtered by the OrderStatus search attribute (an order
    that has none is RECEIVED while its workflow runs, COMPLETED once it completed)."""
    from orderflow.domain.status import RESTING, OrderStatus
    from orderflow.workflows.messages import StatusUpdates

    settings = settings_with()
    try:
        wanted = OrderStatus(status.upper()) if status else None
    except ValueError:
        choices = ", ".join(s.value for s in OrderStatus)
        fail(f"refused: --status must be one of {choices}", Exit.REFUSED)
    if (
        wanted is not None
        and settings.status_updates is not StatusUpdates.EVERY
        and wanted not in RESTING
        and wanted is not OrderStatus.RECEIVED
    ):
        say(
            f"note: orders pass {wanted.value} without writing it to OrderStatus "
            f"(ORDERFLOW_STATUS_UPDATES={settings.status_updates.value}); orders in progress "
            "show RECEIVED"
        )

    async def main() -> int:
        from orderflow.bootstrap import connected_service
        from orderflow.cli.render import dumps, listing

        async with connected_service(settings) as service:
            orders = await service.list_orders(wanted, limit)
        if as_json:
            typer.echo(dumps([o.model_dump(mode="json") for o in orders]))
        else:
            typer.echo(listing(orders))
            say(f"{len(orders)} order(s)")
        return Exit.OK

    run_async(main)


def cancel(
    order_id: OrderId,
    reason: Annotated[str, typer.Option(help="Why (kept with the order).")] = "",
    as_json: AsJson = False,
) -> None:
    """Cancel an order whose shipment is not booked yet: undo exactly what was done.

    Waits for the compensations and prints the final state; exit status 5 when it is too
    late (the shipment is booked, or the order has finished).
    """
    _act(order_id, as_json, lambda service: service.cancel(order_id, reason))


Reviewer = Annotated[str, typer.Option(help="Who decides (kept with the order).")]
Note = Annotated[str, typer.Option(help="Why (kept with the order).")]


def approve(
    order_id: OrderId, reviewer: Reviewer = "", note: Note = "", as_json: AsJson = False
) -> None:
    """Approve an order that waits for review: it goes on to payment."""
    _review(order_id, True, reviewer, note, as_json)


def reject(
    order_id: OrderId, reviewer: Reviewer = "", note: Note = "", as_json: AsJson = False
) -> None:
    """Reject an order that waits for review: it is cancelled, nothing was charged."""
    _review(order_id, False, reviewer, note, as_json)


def _review(order_id: str, approved: bool, reviewer: str, note: str, as_json: bool) -> None:
    from orderflow.workflows.messages import ReviewDecision

    decision = ReviewDecision(approved=approved, reviewer=reviewer, note=note)
    _act(order_id, as_json, lambda service: service.review(order_id, decision))


def resolve(
    order_id: Annotated[
        str, typer.Argument(help="An order in NEEDS_ATTENTION.", show_default=False)
    ],
    retry: Annotated[
        bool, typer.Option("--retry", help="Run the failed compensations again.")
    ] = False,
    mark_refunded: Annotated[
        bool, typer.Option("--mark-refunded", help="You refunded by hand: record it.")
    ] = False,
    mark_released: Annotated[
        bool, typer.Option("--mark-released", help="You released the stock by hand: record it.")
    ] = False,
    mark_cancelled: Annotated[
        bool, typer.Option("--mark-cancelled", help="You cancelled the shipment by hand.")
    ] = False,
    operator: Annotated[str, typer.Option(help="Who decides (kept in the order's log).")] = "",
    note: Annotated[str, typer.Option(help="Why (kept in the order's log).")] = "",
    as_json: AsJson = False,
) -> None:
    """Settle an order that NEEDS_ATTENTION: retry its compensations or record a manual fix."""
    from orderflow.workflows.messages import Resolution, ResolutionAction

    chosen = [
        action
        for action, flag in (
            (ResolutionAction.RETRY, retry),
            (ResolutionAction.MARK_REFUNDED, mark_refunded),
            (ResolutionAction.MARK_RELEASED, mark_released),
            (ResolutionAction.MARK_CANCELLED, mark_cancelled),
        )
        if flag
    ]
    if len(chosen) != 1:
        fail(
            "refused: give exactly one of --retry, --mark-refunded, --mark-released, "
            "--mark-cancelled",
            Exit.REFUSED,
        )
    resolution = Resolution(action=chosen[0], operator=operator, note=note)
    _act(order_id, as_json, lambda service: service.resolve(order_id, resolution))


def _act(order_id: str, as_json: bool, action: Callable[[OrderService], Awaitable[object]]) -> None:
    """Run one action on an order, then print the state it left the order in."""
    settings = settings_with()

    async def main() -> int:
        from orderflow.bootstrap import connected_service
        from orderflow.cli.render import dumps, state_json, state_text

        async with connected_service(settings) as service:
            await action(service)
            state = await service.status(order_id)
        if as_json:
            typer.echo(dumps(state_json(state)))
        else:
            typer.echo(state_text(state))
        return Exit.OK

    run_async(main)
