"""Order totals: pure, deterministic arithmetic on Decimal (runs inside the workflow).

Rules (documented in the README):
- subtotal = sum of unit price x quantity, exact;
- shipping fee from ``SHIPPING_RATES`` by service level and parcel weight; standard
  shipping is free from ``FREE_SHIPPING_FROM`` subtotal;
- tax = ``TAX_RATE`` of (subtotal + shipping fee), rounded half-up to cents;
- total = subtotal + shipping fee + tax.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from decimal import Decimal

from orderflow.domain.models import Order, OrderTotal, PricedLine, ServiceLevel
from orderflow.domain.money import to_cents

TAX_RATE = Decimal("0.08")
FREE_SHIPPING_FROM = Decimal("100.00")

#: (max parcel weight in grams, fee) brackets per service level; the last bracket is open.
SHIPPING_RATES: dict[ServiceLevel, tuple[tuple[int | None, Decimal], ...]] = {
    ServiceLevel.STANDARD: (
        (500, Decimal("4.90")),
        (2000, Decimal("7.90")),
        (None, Decimal("12.90")),
    ),
    ServiceLevel.EXPRESS: (
        (500, Decimal("14.90")),
        (2000, Decimal("19.90")),
        (None, Decimal("29.90")),
    ),
}


def parcel_weight(lines: Sequence[PricedLine]) -> int:
    """Total weight in grams of the goods in ``lines``."""
    return sum(line.weight_grams * line.quantity for line in lines)


def shipping_fee(level: ServiceLevel, weight_grams: int, subtotal: Decimal) -> Decimal:
    """The fee the customer pays for shipping, from the rate table."""
    if level is ServiceLevel.STANDARD and subtotal >= FREE_SHIPPING_FROM:
        return Decimal("0.00")
    for max_weight, fee in SHIPPING_RATES[level]:
        if max_weight is None or weight_grams <= max_weight:
            return fee
    raise AssertionError("the rate table's last bracket is open")  # pragma: no cover


def price_order(lines: Sequence[PricedLine], level: ServiceLevel) -> OrderTotal:
    """Subtotal, shipping fee, tax and total for validated lines."""
    subtotal = to_cents(sum((line.amount for line in lines), Decimal("0")))
    fee = shipping_fee(level, parcel_weight(lines), subtotal)
    tax = to_cents((subtotal + fee) * TAX_RATE)
    return OrderTotal(subtotal=subtotal, shipping_fee=fee, tax=tax, total=subtotal + fee + tax)


def split_total(total: Decimal, weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """``total`` shared among ``weights``' keys in proportion to them, in cents, summing to
    ``total`` exactly (the last key takes the rounding); what each parcel captures.

    >>> split_total(Decimal("10.00"), {"A": Decimal("1"), "B": Decimal("2")})
    {'A': Decimal('3.33'), 'B': Decimal('6.67')}
    """
    keys = list(weights)
    if not keys:
        return {}
    whole = sum(weights.values(), Decimal("0"))
    shares: dict[str, Decimal] = {}
    left = total
    for key in keys[:-1]:
        share = to_cents(total * weights[key] / whole) if whole else Decimal("0.00")
        share = min(share, left)
        shares[key] = share
        left -= share
    shares[keys[-1]] = left
    return shares


def order_digest(order: Order) -> str:
    """A digest of everything the customer asked for: the same order gives the same digest
    in every process (the workflow compares it with a later submission under the same id)."""
    return hashlib.sha256(order.model_dump_json().encode()).hexdigest()


def refund_of_lines(unit_prices: Mapping[str, Decimal], quantities: Mapping[str, int]) -> Decimal:
    """What giving back ``quantities`` of the order's lines refunds: their goods and the
    tax on them, in cents (the shipping fee is not refunded by line).

    >>> refund_of_lines({"A": Decimal("10.00")}, {"A": 2})
    Decimal('21.60')
    """
    goods = sum((unit_prices[sku] * units for sku, units in quantities.items()), Decimal("0"))
    return to_cents(goods * (1 + TAX_RATE))
