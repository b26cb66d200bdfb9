"""Order validation rules. Each failure names the field and the rule it broke."""

from __future__ import annotations

import re
from collections.abc import Mapping

from orderflow.domain.errors import InvalidOrder
from orderflow.domain.models import Order, PricedLine, Product, ValidatedOrder

MAX_LINES = 50
MAX_QUANTITY = 1000
MAX_TEXT = 200
ORDER_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")
ADDRESS_FIELDS = ("name", "line1", "city", "postal_code", "country")


def _check_text(field: str, value: str) -> None:
    if not value.strip():
        raise InvalidOrder(field, "is required and must not be blank")
    if len(value) > MAX_TEXT:
        raise InvalidOrder(field, f"must be at most {MAX_TEXT} characters")


def validate_order(order: Order, catalog: Mapping[str, Product]) -> ValidatedOrder:
    """Check ``order`` against the rules and price its lines from ``catalog``.

    Raises:
        InvalidOrder: naming the first field that breaks a rule.
    """
    if not ORDER_ID_PATTERN.fullmatch(order.order_id):
        raise InvalidOrder(
            "order_id", "must be 1-64 characters of letters, digits, '.', '_', ':' or '-'"
        )
    if not order.items:
        raise InvalidOrder("items", "must contain at least one line")
    if len(order.items) > MAX_LINES:
        raise InvalidOrder("items", f"must contain at most {MAX_LINES} lines")
    seen: dict[str, int] = {}
    lines: list[PricedLine] = []
    for index, item in enumerate(order.items):
        where = f"items[{index}]"
        # bool is an int subclass in Python; True is not a quantity.
        if isinstance(item.quantity, bool) or not isinstance(item.quantity, int):
            raise InvalidOrder(f"{where}.quantity", "must be a whole number")
        if item.quantity <= 0:
            raise InvalidOrder(f"{where}.quantity", "must be a positive whole number")
        if item.quantity > MAX_QUANTITY:
            raise InvalidOrder(f"{where}.quantity", f"must be at most {MAX_QUANTITY}")
        product = catalog.get(item.sku)
        if product is None:
            raise InvalidOrder(f"{where}.sku", f"unknown SKU {item.sku[:40]!r}")
        if item.sku in seen:
            raise InvalidOrder(f"{where}.sku", f"duplicates items[{seen[item.sku]}]")
        seen[item.sku] = index
        lines.append(
            PricedLine(
                sku=item.sku,
                quantity=item.quantity,
                unit_price=product.unit_price,
                weight_grams=product.weight_grams,
            )
        )
    for name in ADDRESS_FIELDS:
        _check_text(f"address.{name}", getattr(order.address, name))
    if not COUNTRY_PATTERN.fullmatch(order.address.country):
        raise InvalidOrder("address.country", "must be a two-letter ISO code such as 'US'")
    _check_text("payment_token", order.payment_token)
    return ValidatedOrder(order=order, lines=lines)
