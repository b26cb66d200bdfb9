"""Seeded, varied orders for the demo, the legacy run and the tests."""

from __future__ import annotations

import random
from collections.abc import Iterable

from orderflow.domain.catalog import CATALOG, WAREHOUSES
from orderflow.domain.models import Address, LineItem, Order, ServiceLevel

SCARCE_SKU = "VINYL-LIMITED"
CITIES = (
    ("Ada Lovelace", "12 Analytical Way", "London", "N1 9GU", "GB"),
    ("Grace Hopper", "9 Compiler Ct", "Arlington", "22201", "US"),
    ("Alan Turing", "3 Enigma Rd", "Manchester", "M13 9PL", "GB"),
    ("Hedy Lamarr", "77 Frequency Ave", "Vienna", "1010", "AT"),
    ("Katherine Johnson", "5 Orbit St", "Hampton", "23666", "US"),
)


def generate_orders(count: int, seed: int, prefix: str) -> list[Order]:
    """``count`` orders: mostly good, some declined, some invalid, some for scarce stock."""
    rng = random.Random(seed)
    regular = [p.sku for p in CATALOG if p.sku != SCARCE_SKU]
    orders = []
    for index in range(count):
        name, line1, city, postal, country = rng.choice(CITIES)
        skus = rng.sample(regular, k=rng.randint(1, 3))
        roll = rng.random()
        if roll < 0.12:
            skus = [SCARCE_SKU, *skus[:1]]
        items = [LineItem(sku=sku, quantity=rng.randint(1, 3)) for sku in skus]
        token = "tok_visa"
        address = Address(name=name, line1=line1, city=city, postal_code=postal, country=country)
        if 0.12 <= roll < 0.17:
            token = "tok_declined"
        elif 0.17 <= roll < 0.20:
            address = address.model_copy(update={"city": ""})
        elif 0.20 <= roll < 0.22:
            items = [LineItem(sku="DOES-NOT-EXIST", quantity=1)]
        level = ServiceLevel.EXPRESS if rng.random() < 0.2 else ServiceLevel.STANDARD
        orders.append(
            Order(
                order_id=f"{prefix}{index + 1:04d}",
                customer_id=f"cust-{rng.randint(1, 50):03d}",
                items=items,
                address=address,
                payment_token=token,
                service_level=level,
            )
        )
    return orders


def stock_targets(orders: Iterable[Order]) -> dict[tuple[str, str], int]:
    """Stock to have on hand per (warehouse, SKU).

    Plenty of everything, split between the warehouses (so some orders ship as two
    parcels), but the scarce SKU lives in one warehouse only and runs out.
    """
    wanted: dict[str, int] = {p.sku: 0 for p in CATALOG}
    for order in orders:
        for item in order.items:
            if item.sku in wanted:
                wanted[item.sku] += max(item.quantity, 0)
    east, west = WAREHOUSES[0], WAREHOUSES[-1]
    targets: dict[tuple[str, str], int] = {}
    for index, (sku, units) in enumerate(sorted(wanted.items())):
        if sku == SCARCE_SKU:
            targets[(west, sku)] = max(2, units // 2)
            continue
        # Alternate which warehouse carries each SKU mostly, so mixed baskets split.
        main, other = (east, west) if index % 2 else (west, east)
        targets[(main, sku)] = units + 10
        targets[(other, sku)] = units // 4 + 2
    return targets
