"""Allocating an order's lines to warehouses (pure; runs inside an activity on a snapshot).

Rules: a line ships whole from one warehouse; the fewer shipments the better, so the
warehouse that can serve the most remaining lines is chosen first; ties go to the one with
the most stock to spare (concurrent orders then spread instead of draining one shelf),
then to preference order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from orderflow.domain.errors import OutOfStock
from orderflow.domain.models import PricedLine


def allocate(
    lines: Sequence[PricedLine],
    availability: Mapping[str, Mapping[str, int]],
    preference: Sequence[str],
) -> dict[str, list[PricedLine]]:
    """Map warehouse -> lines it ships.

    Raises:
        OutOfStock: some line fits in no single warehouse.
    """
    remaining = list(lines)
    for line in remaining:
        if not any(availability.get(w, {}).get(line.sku, 0) >= line.quantity for w in preference):
            total = sum(availability.get(w, {}).get(line.sku, 0) for w in preference)
            raise OutOfStock(
                f"not enough {line.sku} in stock for {line.quantity} unit(s) "
                f"(available: {total}, no single warehouse has enough)"
            )

    def servable(warehouse: str, pending: list[PricedLine]) -> list[PricedLine]:
        stock = availability.get(warehouse, {})
        return [line for line in pending if stock.get(line.sku, 0) >= line.quantity]

    plan: dict[str, list[PricedLine]] = {}
    while remaining:
        pending = remaining

        def score(warehouse: str, pending: list[PricedLine] = pending) -> tuple[int, int, int]:
            lines_served = servable(warehouse, pending)
            stock = availability.get(warehouse, {})
            spare = min((stock[line.sku] - line.quantity for line in lines_served), default=0)
            return len(lines_served), spare, -preference.index(warehouse)

        best = max((w for w in preference if w not in plan), key=score)
        chosen = servable(best, pending)
        plan[best] = chosen
        remaining = [line for line in remaining if line not in chosen]
    return {w: plan[w] for w in preference if plan.get(w)}
