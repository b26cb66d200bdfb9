"""The order's parcels: which warehouse ships which lines, run per warehouse in parallel.

Workflow code (deterministic), owned by OrderWorkflow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from orderflow.domain.models import PricedLine, ReservedLine
    from orderflow.workflows.messages import ShipmentOutcome, ShipmentStatus

# Workflow code: imported inside the sandbox, like order.py.
from orderflow.workflows.steps import StepFailed, Stopped

Branch = Callable[[str, list[PricedLine]], Awaitable[None]]


class Parcels:
    """One parcel per warehouse: its lines, and what became of it (``ShipmentOutcome``)."""

    def __init__(self) -> None:
        self.lines: dict[str, list[PricedLine]] = {}
        self.outcomes: dict[str, ShipmentOutcome] = {}

    def plan(self, parcels: Mapping[str, list[PricedLine]]) -> list[ShipmentOutcome]:
        """Take the allocation's plan: every parcel starts ``planned``."""
        self.lines = dict(parcels)
        self.outcomes = {
            warehouse: ShipmentOutcome(
                warehouse=warehouse,
                lines=[ReservedLine(sku=line.sku, quantity=line.quantity) for line in lines],
            )
            for warehouse, lines in parcels.items()
        }
        return self.all()

    def __getitem__(self, warehouse: str) -> ShipmentOutcome:
        return self.outcomes[warehouse]

    def all(self) -> list[ShipmentOutcome]:
        """Every parcel's outcome, in allocation order."""
        return list(self.outcomes.values())

    async def each(self, done: ShipmentStatus, branch: Branch) -> None:
        """Run ``branch`` for every parcel in parallel, marking each ``done`` or failed as it
        finishes; raise the first failure once all have finished."""

        async def marked(warehouse: str, lines: list[PricedLine]) -> None:
            try:
                await branch(warehouse, lines)
            except StepFailed as failed:
                self.outcomes[warehouse].status = ShipmentStatus.FAILED
                self.outcomes[warehouse].error = failed.reason
                raise
            self.outcomes[warehouse].status = done

        failures = await fan_out(self.lines, marked)
        for failure in failures.values():
            if failure is not None:
                raise failure

    def undone(self) -> None:
        """After the saga unwound: booked parcels are cancelled, held ones released."""
        for outcome in self.outcomes.values():
            if outcome.status is ShipmentStatus.BOOKED:
                outcome.status = ShipmentStatus.CANCELLED
            elif outcome.status in (ShipmentStatus.RESERVED, ShipmentStatus.QUOTED):
                outcome.status = ShipmentStatus.RELEASED


async def fan_out(
    parcels: Mapping[str, list[PricedLine]],
    branch: Callable[[str, list[PricedLine]], Awaitable[None]],
) -> dict[str, BaseException | None]:
    """Run ``branch`` per warehouse in parallel and join them all before deciding.

    Returns each warehouse's outcome (None: it succeeded); a cancel or a stop is raised at
    once, a branch's failure only after every branch has finished, so compensation sees
    exactly what was done in each warehouse.
    """
    warehouses = list(parcels)
    outcomes = await asyncio.gather(
        *(branch(w, parcels[w]) for w in warehouses), return_exceptions=True
    )
    for outcome in outcomes:
        if isinstance(outcome, (Stopped, asyncio.CancelledError)):
            raise outcome
    return {
        w: outcome if isinstance(outcome, BaseException) else None
        for w, outcome in zip(warehouses, outcomes, strict=True)
    }
