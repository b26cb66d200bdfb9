"""Property tests of the domain's front door: arbitrary order payloads, no server.

Each payload is parsed as the worker and the CLI do (``Order.model_validate_json``) and
checked against the catalog (``validate_order``). It must either be accepted with every
invariant holding (quantities, SKUs, address, and a total in exact cents), or be refused
by a pydantic ``ValidationError`` or an ``InvalidOrder`` naming the field and the rule.
Any other exception (TypeError, KeyError, OverflowError, decimal.InvalidOperation...)
fails the test. The Store's Money column is the other door: catalog prices and charges
with more than two decimals must be refused before anything is written.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError

from orderflow.domain.catalog import CATALOG
from orderflow.domain.errors import InvalidOrder
from orderflow.domain.models import Order, PricedLine, Product, ServiceLevel, ValidatedOrder
from orderflow.domain.money import to_cents
from orderflow.domain.pricing import SHIPPING_RATES, TAX_RATE, price_order
from orderflow.domain.validation import (
    COUNTRY_PATTERN,
    MAX_LINES,
    MAX_QUANTITY,
    MAX_TEXT,
    ORDER_ID_PATTERN,
    validate_order,
)
from orderflow.store import Store, make_engine
from orderflow.store.tables import orders, payments, products
from tests.property.conftest import (
    MALFORMED,
    MUTATIONS,
    PRICES,
    Payload,
    one_defect,
    valid_payloads,
)

CATALOG_BY_SKU = {product.sku: product for product in CATALOG}
#: Largest amount the Money column holds: BIGINT cents.
MAX_CENTS = 2**63 - 1
#: A field in the API's notation: ``items[0].quantity``, ``address.city``, ``body``.
FIELD = re.compile(r"^[a-z_][a-z0-9_]*(\[\d+\])?(\.[a-z_][a-z0-9_]*)*$")
FEES = {fee for brackets in SHIPPING_RATES.values() for _, fee in brackets} | {Decimal("0.00")}

DETERMINISTIC = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@dataclass
class Verdict:
    """What the domain made of a payload."""

    accepted: ValidatedOrder | None = None
    fields: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)


def field_of(loc: tuple[int | str, ...]) -> str:
    """A pydantic location in the API's notation; the empty location is the whole ``body``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def judge(raw: bytes) -> Verdict:
    """Parse and validate ``raw``; only the two documented refusals are caught."""
    try:
        order = Order.model_validate_json(raw)
    except ValidationError as err:
        errors = err.errors()
        return Verdict(
            fields=[field_of(tuple(e["loc"])) for e in errors],
            rules=[f"{e['type']}: {e['msg']}" for e in errors],
        )
    try:
        return Verdict(accepted=validate_order(order, CATALOG_BY_SKU))
    except InvalidOrder as err:
        return Verdict(fields=[err.field], rules=[err.rule])


def walk(value: Any) -> Iterator[Any]:
    """Every leaf of a dumped model."""
    if isinstance(value, BaseModel):
        yield from walk(value.model_dump())
    elif isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from walk(item)
    else:
        yield value


def assert_cents(amount: Any, what: str) -> None:
    assert isinstance(amount, Decimal), f"{what} is {type(amount).__name__}, not Decimal"
    assert amount.is_finite(), f"{what} = {amount}"
    assert amount.as_tuple().exponent == -2, f"{what} = {amount} is not in exact cents"


def assert_invariants(validated: ValidatedOrder) -> None:
    """What an accepted order guarantees to the steps after validation."""
    order = validated.order
    assert ORDER_ID_PATTERN.fullmatch(order.order_id)
    assert 1 <= len(validated.lines) <= MAX_LINES
    assert len({line.sku for line in validated.lines}) == len(validated.lines)
    for line in validated.lines:
        assert type(line.quantity) is int and 1 <= line.quantity <= MAX_QUANTITY
        assert line.sku in CATALOG_BY_SKU
        # The price is the catalog's, never anything the client sent.
        assert line.unit_price == PRICES[line.sku]
    for name in ("name", "line1", "city", "postal_code", "country"):
        value = getattr(order.address, name)
        assert value.strip() and len(value) <= MAX_TEXT, name
    assert COUNTRY_PATTERN.fullmatch(order.address.country)
    assert order.payment_token.strip() and len(order.payment_token) <= MAX_TEXT

    total = price_order(validated.lines, order.service_level)
    for name in ("subtotal", "shipping_fee", "tax", "total"):
        assert_cents(getattr(total, name), name)
    assert total.subtotal == sum((line.amount for line in validated.lines), Decimal("0"))
    assert total.shipping_fee in FEES
    assert total.tax == to_cents((total.subtotal + total.shipping_fee) * TAX_RATE)
    assert total.total == total.subtotal + total.shipping_fee + total.tax
    assert total.total > 0
    leaves = [*walk(validated), *walk(total)]
    assert not [leaf for leaf in leaves if isinstance(leaf, float)], "a float in money or data"


def assert_refusal_is_clear(verdict: Verdict) -> None:
    assert verdict.fields, "refused without naming a field"
    for name in verdict.fields:
        assert FIELD.fullmatch(name), f"{name!r} is not a field name"
    assert all(rule.strip() for rule in verdict.rules), "refused without saying which rule"


TRIED: Counter[str] = Counter()
OUTCOMES: Counter[str] = Counter()


def check(payload: Payload) -> None:
    """Accepted whole, or refused naming the field the payload breaks; nothing else."""
    verdict = judge(payload.raw())
    TRIED[payload.kind] += 1

    if payload.domain_field is None:
        assert verdict.accepted is not None, (
            f"{payload.kind}: refused a valid order: {verdict.fields} {verdict.rules}"
        )
        assert_invariants(verdict.accepted)
        OUTCOMES["accepted, invariants hold"] += 1
    else:
        assert verdict.accepted is None, f"{payload.kind}: accepted {payload.body!r:.300}"
        assert_refusal_is_clear(verdict)
        assert payload.domain_field in verdict.fields, (
            f"{payload.kind}: expected {payload.domain_field}, got {verdict.fields}"
        )
        OUTCOMES["refused correctly"] += 1


@settings(DETERMINISTIC, max_examples=100)
@given(valid_payloads())
def test_a_valid_order_is_accepted_with_every_invariant(payload: Payload) -> None:
    check(payload)


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
@settings(DETERMINISTIC, max_examples=12)
@given(data=st.data())
def test_an_order_broken_in_one_way_is_refused_naming_the_field(
    kind: str, data: st.DataObject
) -> None:
    check(data.draw(one_defect([kind]), label="payload"))


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_bytes_that_are_not_json_are_refused_as_the_body(name: str) -> None:
    verdict = judge(MALFORMED[name])

    assert verdict.accepted is None
    assert verdict.fields == ["body"]
    assert verdict.rules[0].startswith("json_invalid: ")
    TRIED[f"malformed: {name}"] += 1
    OUTCOMES["refused correctly"] += 1


def test_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints what the payload properties tried (run last in this module; -s shows it)."""
    tried = sum(TRIED.values())
    with capsys.disabled():
        print(f"\n[domain payloads] inputs tried: {tried} in {len(TRIED)} kinds; ", end="")
        print(", ".join(f"{k}: {v}" for k, v in sorted(OUTCOMES.items())), end="; ")
        print("other exceptions: 0")
    if tried:  # nothing to check when this test runs alone
        assert sum(OUTCOMES.values()) == tried


# -- prices and totals: the catalog and the Store ------------------------------------------


catalog_prices = st.integers(min_value=0, max_value=MAX_CENTS).map(
    lambda cents: Decimal(cents).scaleb(-2)
)


@settings(DETERMINISTIC, max_examples=200)
@given(
    st.lists(
        st.tuples(catalog_prices, st.integers(1, MAX_QUANTITY), st.integers(0, 10**6)),
        min_size=1,
        max_size=MAX_LINES,
    ),
    st.sampled_from(ServiceLevel),
)
def test_any_price_the_store_can_hold_totals_in_exact_cents_without_decimal_errors(
    lines: list[tuple[Decimal, int, int]], level: ServiceLevel
) -> None:
    """Absurd totals: the biggest prices the Money column holds, at the biggest order."""
    priced = [
        PricedLine(sku=f"SKU-{n}", quantity=qty, unit_price=price, weight_grams=grams)
        for n, (price, qty, grams) in enumerate(lines)
    ]

    total = price_order(priced, level)

    for name in ("subtotal", "shipping_fee", "tax", "total"):
        assert_cents(getattr(total, name), name)
    assert total.subtotal == sum(p * q for p, q, _ in lines)
    assert total.total == total.subtotal + total.shipping_fee + total.tax


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh SQLite store with the catalog seeded."""
    store = Store(make_engine(f"sqlite:///{tmp_path / 'orderflow.db'}"))
    store.create_schema()
    store.seed_catalog(CATALOG)
    yield store
    store.engine.dispose()


sub_cent_amounts = st.builds(
    lambda cents, extra, places: (Decimal(cents) + Decimal(extra).scaleb(-places)).scaleb(-2),
    st.integers(0, 10**12),
    st.integers(1, 10**6 - 1),
    st.integers(1, 12),
).filter(lambda amount: amount != to_cents(amount))


def _counts(store: Store) -> tuple[int, int, int]:
    with store.engine.connect() as conn:
        return (
            conn.scalar(select(func.count()).select_from(payments)) or 0,
            conn.scalar(select(func.count()).select_from(orders)) or 0,
            conn.scalar(select(func.count()).select_from(products)) or 0,
        )


def assert_refused_as_sub_cent(error: pytest.ExceptionInfo[StatementError]) -> None:
    assert isinstance(error.value.orig, ValueError)
    assert "more than two decimal places" in str(error.value.orig)


@settings(DETERMINISTIC, max_examples=150)
@given(amount=sub_cent_amounts)
def test_a_sub_cent_charge_or_catalog_price_is_refused_and_nothing_is_written(
    store: Store, amount: Decimal
) -> None:
    before = _counts(store)

    with pytest.raises(StatementError) as charged:
        store.charge(f"o-{amount}", amount, f"o-{amount}:payment")
    with pytest.raises(ValidationError):  # the domain model refuses it first ...
        Product(sku="SUBCENT", name="x", unit_price=amount, weight_grams=1)
    unchecked = Product.model_construct(sku="SUBCENT", name="x", unit_price=amount, weight_grams=1)
    with pytest.raises(StatementError) as seeded:  # ... and the column refuses it too
        store.seed_catalog([unchecked])

    assert_refused_as_sub_cent(charged)
    assert_refused_as_sub_cent(seeded)
    assert _counts(store) == before  # no payment, no order row, no product
    assert "SUBCENT" not in store.catalog()


@settings(DETERMINISTIC, max_examples=100)
@given(amount=catalog_prices)
def test_whole_cent_amounts_up_to_the_column_limit_are_stored_exactly(
    store: Store, amount: Decimal
) -> None:
    receipt = store.charge(f"o-{amount}", amount, f"o-{amount}:payment")

    with store.engine.connect() as conn:
        stored = conn.scalar(select(payments.c.amount).where(payments.c.order_id == f"o-{amount}"))
    assert receipt.amount == stored == amount
    assert_cents(stored, "stored amount")


@pytest.mark.parametrize(
    "amount", ["Infinity", "-Infinity", "sNaN", "1E+30", "92233720368547758.08"]
)
def test_amounts_the_column_cannot_hold_are_refused_with_a_clear_error(
    store: Store, amount: str
) -> None:
    before = _counts(store)
    with pytest.raises(StatementError) as refused:
        store.charge("o-absurd", Decimal(amount), "o-absurd:payment")
    assert isinstance(refused.value.orig, ValueError), repr(refused.value.orig)
    assert _counts(store) == before


def test_a_negative_catalog_price_is_refused(store: Store) -> None:
    with pytest.raises((ValidationError, StatementError, ValueError)):
        store.seed_catalog(
            [Product(sku="NEGATIVE", name="x", unit_price=Decimal("-1.00"), weight_grams=1)]
        )
