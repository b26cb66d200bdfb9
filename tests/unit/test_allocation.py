"""Allocating an order's lines to warehouses: whole lines, few parcels, preference on ties."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from orderflow.domain.allocation import allocate
from orderflow.domain.errors import OutOfStock
from orderflow.domain.models import PricedLine

EAST, WEST, NORTH = "WH-EAST", "WH-WEST", "WH-NORTH"
PREFERENCE = (EAST, WEST)


def line(sku: str, quantity: int = 1) -> PricedLine:
    return PricedLine(sku=sku, quantity=quantity, unit_price=Decimal("10.00"), weight_grams=100)


def skus(plan: dict[str, list[PricedLine]]) -> dict[str, list[tuple[str, int]]]:
    return {w: [(ln.sku, ln.quantity) for ln in lines] for w, lines in plan.items()}


def test_an_order_the_preferred_warehouse_can_serve_ships_from_it_alone() -> None:
    availability = {EAST: {"A": 5, "B": 5}, WEST: {"A": 5, "B": 5}}

    plan = allocate([line("A", 2), line("B", 1)], availability, PREFERENCE)

    assert skus(plan) == {EAST: [("A", 2), ("B", 1)]}


def test_between_warehouses_that_can_both_serve_the_order_the_one_with_more_to_spare_wins() -> None:
    # Draining the preferred shelf would leave it empty for the next order.
    availability = {EAST: {"A": 2, "B": 9}, WEST: {"A": 7, "B": 9}}

    plan = allocate([line("A", 2), line("B", 1)], availability, PREFERENCE)

    assert skus(plan) == {WEST: [("A", 2), ("B", 1)]}


def test_one_parcel_from_a_less_preferred_warehouse_beats_two_parcels() -> None:
    availability = {EAST: {"A": 5}, WEST: {"A": 5, "B": 5}}

    plan = allocate([line("A"), line("B")], availability, PREFERENCE)

    assert skus(plan) == {WEST: [("A", 1), ("B", 1)]}


def test_an_order_no_warehouse_can_serve_alone_is_split_by_whole_lines() -> None:
    availability = {EAST: {"A": 5, "B": 5}, WEST: {"C": 5}}

    plan = allocate([line("A"), line("C", 3), line("B")], availability, PREFERENCE)

    assert skus(plan) == {EAST: [("A", 1), ("B", 1)], WEST: [("C", 3)]}


def test_a_line_is_never_split_across_warehouses() -> None:
    # 3 + 3 units would cover 4, but no single shelf has 4.
    availability = {EAST: {"A": 3}, WEST: {"A": 3}}

    with pytest.raises(OutOfStock, match=r"not enough A .*available: 6, no single warehouse"):
        allocate([line("A", 4)], availability, PREFERENCE)


def test_a_sku_out_of_stock_everywhere_is_out_of_stock() -> None:
    with pytest.raises(OutOfStock, match="not enough B"):
        allocate([line("A"), line("B")], {EAST: {"A": 1}, WEST: {}}, PREFERENCE)


def test_a_warehouse_outside_the_preference_list_is_never_used() -> None:
    availability = {NORTH: {"A": 100}, EAST: {"A": 0}, WEST: {"A": 1}}

    assert skus(allocate([line("A")], availability, PREFERENCE)) == {WEST: [("A", 1)]}
    with pytest.raises(OutOfStock):
        allocate([line("A", 2)], availability, PREFERENCE)


@pytest.mark.parametrize("seed", range(5))
def test_every_line_is_allocated_once_to_a_warehouse_that_has_it(seed: int) -> None:
    rng = random.Random(seed)
    warehouses = (EAST, WEST, NORTH)
    for _ in range(200):
        availability = {
            w: {sku: rng.randint(0, 6) for sku in "ABCDEF" if rng.random() < 0.7}
            for w in warehouses
        }
        lines = [line(sku, rng.randint(1, 4)) for sku in rng.sample("ABCDEF", rng.randint(1, 6))]
        try:
            plan = allocate(lines, availability, warehouses)
        except OutOfStock:
            assert any(
                all(availability[w].get(ln.sku, 0) < ln.quantity for w in warehouses)
                for ln in lines
            )
            continue

        allocated = [ln for parcel in plan.values() for ln in parcel]
        assert sorted(ln.sku for ln in allocated) == sorted(ln.sku for ln in lines)
        assert all(parcel for parcel in plan.values())
        for warehouse, parcel in plan.items():
            assert all(availability[warehouse].get(ln.sku, 0) >= ln.quantity for ln in parcel)
        assert list(plan) == [w for w in warehouses if w in plan]
        if any(
            all(availability[w].get(ln.sku, 0) >= ln.quantity for ln in lines) for w in warehouses
        ):
            assert len(plan) == 1
