"""Money is Decimal, quantized to cents at documented boundaries; never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def to_cents(amount: Decimal) -> Decimal:
    """Round an amount to whole cents, half away from zero (how shops round tax)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def has_at_most_cents(amount: Decimal) -> bool:
    """True when ``amount`` needs no more than two decimal places."""
    exponent = amount.as_tuple().exponent
    return isinstance(exponent, int) and (exponent >= -2 or amount == to_cents(amount))
