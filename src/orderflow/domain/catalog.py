"""The shop's catalog. Seeded into the database on first start."""

from __future__ import annotations

from decimal import Decimal

from orderflow.domain.models import Product

CATALOG: tuple[Product, ...] = (
    Product(
        sku="TEE-BLACK-M", name="T-shirt, black, M", unit_price=Decimal("19.99"), weight_grams=180
    ),
    Product(
        sku="TEE-WHITE-L", name="T-shirt, white, L", unit_price=Decimal("19.99"), weight_grams=190
    ),
    Product(
        sku="HOODIE-GREY-M", name="Hoodie, grey, M", unit_price=Decimal("49.50"), weight_grams=620
    ),
    Product(sku="MUG-LOGO", name="Mug with logo", unit_price=Decimal("12.00"), weight_grams=350),
    Product(sku="STICKER-PACK", name="Sticker pack", unit_price=Decimal("3.25"), weight_grams=20),
    Product(sku="CAP-NAVY", name="Cap, navy", unit_price=Decimal("24.90"), weight_grams=120),
    Product(sku="BOTTLE-STEEL", name="Steel bottle", unit_price=Decimal("29.95"), weight_grams=400),
    Product(
        sku="VINYL-LIMITED", name="Limited vinyl", unit_price=Decimal("39.99"), weight_grams=300
    ),
)

#: Warehouses, in order of preference when an order can be served from several.
WAREHOUSES: tuple[str, ...] = ("WH-EAST", "WH-WEST")
DEFAULT_WAREHOUSE = WAREHOUSES[0]
