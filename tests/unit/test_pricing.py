"""Order totals: what the customer is asked to pay, to the cent."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from orderflow.domain import pricing
from orderflow.domain.catalog import CATALOG
from orderflow.domain.models import OrderTotal, PricedLine, ServiceLevel
from orderflow.domain.money import to_cents
from orderflow.domain.pricing import price_order, shipping_fee

STANDARD, EXPRESS = ServiceLevel.STANDARD, ServiceLevel.EXPRESS


def line(
    unit_price: str, quantity: int = 1, weight_grams: int = 100, sku: str = "SKU"
) -> PricedLine:
    return PricedLine(
        sku=sku, quantity=quantity, unit_price=Decimal(unit_price), weight_grams=weight_grams
    )


def assert_cents(total: OrderTotal) -> None:
    for name in ("subtotal", "shipping_fee", "tax", "total"):
        value = getattr(total, name)
        assert type(value) is Decimal, f"{name} is {type(value).__name__}, not Decimal"
        assert value.as_tuple().exponent == -2, f"{name} is {value}, not whole cents"


# -- subtotal -------------------------------------------------------------------------------


def test_subtotal_is_the_exact_sum_of_price_times_quantity() -> None:
    total = price_order(
        [line("19.99", 3, sku="A"), line("3.25", 7, sku="B"), line("0.10", 3, sku="C")], STANDARD
    )

    # 59.97 + 22.75 + 0.30; in float, 0.10 * 3 alone is already 0.30000000000000004.
    assert total.subtotal == Decimal("83.02")


def test_a_sub_cent_unit_price_rounds_the_subtotal_half_up() -> None:
    # 0.125 is exactly half a cent over 0.12: half-up gives 0.13 where banker's rounding
    # (half-even) would give 0.12.
    total = price_order([line("0.125")], STANDARD)

    assert total.subtotal == Decimal("0.13")


# -- shipping fee ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "weight_grams", "fee"),
    [
        (STANDARD, 1, "4.90"),
        (STANDARD, 500, "4.90"),
        (STANDARD, 501, "7.90"),
        (STANDARD, 2000, "7.90"),
        (STANDARD, 2001, "12.90"),
        (STANDARD, 40000, "12.90"),
        (EXPRESS, 1, "14.90"),
        (EXPRESS, 500, "14.90"),
        (EXPRESS, 501, "19.90"),
        (EXPRESS, 2000, "19.90"),
        (EXPRESS, 2001, "29.90"),
        (EXPRESS, 40000, "29.90"),
    ],
)
def test_shipping_fee_follows_the_weight_brackets_of_the_service_level(
    level: ServiceLevel, weight_grams: int, fee: str
) -> None:
    total = price_order([line("10.00", 1, weight_grams)], level)

    assert total.shipping_fee == Decimal(fee)


def test_the_parcel_weight_counts_every_unit_of_every_line() -> None:
    # Each shirt is light (180 g), but three of them and a mug make 890 g: the second bracket.
    tee = next(p for p in CATALOG if p.sku == "TEE-BLACK-M")
    mug = next(p for p in CATALOG if p.sku == "MUG-LOGO")
    lines = [
        PricedLine(sku=p.sku, quantity=q, unit_price=p.unit_price, weight_grams=p.weight_grams)
        for p, q in ((tee, 3), (mug, 1))
    ]

    assert price_order(lines, STANDARD).shipping_fee == Decimal("7.90")


@pytest.mark.parametrize(
    ("subtotal", "fee"),
    [("99.99", "4.90"), ("100.00", "0.00"), ("100.01", "0.00"), ("500.00", "0.00")],
)
def test_standard_shipping_is_free_from_a_subtotal_of_one_hundred(subtotal: str, fee: str) -> None:
    total = price_order([line(subtotal)], STANDARD)

    assert total.shipping_fee == Decimal(fee)


@pytest.mark.parametrize("subtotal", ["100.00", "500.00"])
def test_express_shipping_is_never_free(subtotal: str) -> None:
    total = price_order([line(subtotal)], EXPRESS)

    assert total.shipping_fee == Decimal("14.90")


def test_free_shipping_applies_to_heavy_standard_parcels_too() -> None:
    assert shipping_fee(STANDARD, 25000, Decimal("100.00")) == Decimal("0.00")


# -- tax ------------------------------------------------------------------------------------


def test_tax_is_charged_on_the_goods_and_the_shipping_fee() -> None:
    # (12.00 + 4.90) x 8% = 1.352: tax on the goods alone would be 0.96.
    total = price_order([line("12.00", weight_grams=350)], STANDARD)

    assert total.tax == Decimal("1.35")


@pytest.mark.parametrize(
    ("unit_price", "quantity", "weight_grams", "tax"),
    [
        # (10.29 + 4.90) x 8% = 1.2152: just over half a cent, rounds up (truncation: 1.21).
        ("10.29", 1, 100, "1.22"),
        # (10.16 + 4.90) x 8% = 1.2048: just under half a cent, rounds down.
        ("10.16", 1, 100, "1.20"),
        # (49.80 + 4.90) x 8% = 4.376: rounds up.
        ("24.90", 2, 100, "4.38"),
        # (24.00 + 7.90) x 8% = 2.552: rounds down (always rounding up would say 2.56).
        ("12.00", 2, 300, "2.55"),
        # (59.97 + 7.90) x 8% = 5.4296: rounds up.
        ("19.99", 3, 300, "5.43"),
    ],
)
def test_tax_is_rounded_to_the_nearest_cent(
    unit_price: str, quantity: int, weight_grams: int, tax: str
) -> None:
    total = price_order([line(unit_price, quantity, weight_grams)], STANDARD)

    assert total.tax == Decimal(tax)


def test_tax_exactly_half_a_cent_rounds_up(monkeypatch: pytest.MonkeyPatch) -> None:
    # At 8% on whole cents the tax never lands on exactly half a cent, so use a 10% rate:
    # (5.15 + 4.90) x 10% = 1.005, which half-up makes 1.01 (half-even would make 1.00).
    monkeypatch.setattr(pricing, "TAX_RATE", Decimal("0.10"))

    total = price_order([line("5.15", weight_grams=200)], STANDARD)

    assert total.tax == Decimal("1.01")
    assert total.total == Decimal("11.06")


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        ("2.675", "2.68"),
        ("0.125", "0.13"),
        ("0.005", "0.01"),
        ("-0.125", "-0.13"),
        ("1.2349", "1.23"),
    ],
)
def test_to_cents_rounds_half_away_from_zero(amount: str, cents: str) -> None:
    # 2.675 is the classic: as a float it is 2.67499999..., and round(2.675, 2) gives 2.67.
    assert to_cents(Decimal(amount)) == Decimal(cents)


# -- totals ---------------------------------------------------------------------------------


def test_total_is_subtotal_plus_shipping_fee_plus_tax() -> None:
    total = price_order([line("24.90", 2, 100)], STANDARD)

    assert (total.subtotal, total.shipping_fee, total.tax) == (
        Decimal("49.80"),
        Decimal("4.90"),
        Decimal("4.38"),
    )
    assert total.total == Decimal("59.08")


def test_every_amount_is_a_decimal_in_whole_cents_even_for_round_prices() -> None:
    # Integer-looking inputs must still come out as 12.00, not 12 (and the free fee as 0.00).
    for total in (
        price_order([line("12", 1)], STANDARD),
        price_order([line("100", 1)], STANDARD),
        price_order([line("7.5", 2)], EXPRESS),
    ):
        assert_cents(total)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_baskets_add_up_to_the_cent(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(300):
        lines = [
            line(
                str(Decimal(rng.randint(1, 20000)).scaleb(-2)),
                rng.randint(1, 12),
                rng.randint(1, 900),
                sku=f"SKU-{i}",
            )
            for i in range(rng.randint(1, 6))
        ]
        level = rng.choice([STANDARD, EXPRESS])

        total = price_order(lines, level)

        assert_cents(total)
        assert total.subtotal == sum((ln.unit_price * ln.quantity for ln in lines), Decimal(0))
        assert total.total == total.subtotal + total.shipping_fee + total.tax
        exact_tax = (total.subtotal + total.shipping_fee) * Decimal("0.08")
        assert abs(total.tax - exact_tax) <= Decimal("0.005")
