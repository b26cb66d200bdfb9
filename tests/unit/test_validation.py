"""Order validation: every rule names the field it guards, and valid orders come back priced."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from orderflow.domain.catalog import CATALOG
from orderflow.domain.errors import InvalidOrder
from orderflow.domain.models import Address, LineItem, Order, Product, ServiceLevel
from orderflow.domain.validation import (
    ADDRESS_FIELDS,
    MAX_LINES,
    MAX_QUANTITY,
    MAX_TEXT,
    validate_order,
)

PRODUCTS: dict[str, Product] = {product.sku: product for product in CATALOG}
GOOD_ADDRESS: dict[str, str] = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}


def new_order_id() -> str:
    return f"order-{uuid.uuid4().hex[:12]}"


def make_order(**changes: Any) -> Order:
    """A valid order, with ``changes`` applied (``address`` as a dict of changed fields)."""
    fields: dict[str, Any] = {
        "order_id": new_order_id(),
        "customer_id": "cust-1",
        "items": [LineItem(sku="TEE-BLACK-M", quantity=2), LineItem(sku="MUG-LOGO", quantity=1)],
        "payment_token": "tok_visa",
        "service_level": ServiceLevel.STANDARD,
    }
    address = {**GOOD_ADDRESS, **changes.pop("address", {})}
    fields.update(changes)
    return Order(address=Address(**address), **fields)


def rejection(order: Order) -> InvalidOrder:
    with pytest.raises(InvalidOrder) as caught:
        validate_order(order, PRODUCTS)
    return caught.value


def assert_rejected(order: Order, field: str, rule: str) -> None:
    error = rejection(order)
    assert error.field == field
    assert rule in error.rule
    assert str(error) == f"{field}: {error.rule}"


# -- valid orders ---------------------------------------------------------------------------


def test_a_valid_order_comes_back_with_its_lines_priced_from_the_catalog() -> None:
    order = make_order()

    validated = validate_order(order, PRODUCTS)

    assert validated.order == order
    assert [(ln.sku, ln.quantity, ln.unit_price, ln.weight_grams) for ln in validated.lines] == [
        ("TEE-BLACK-M", 2, Decimal("19.99"), 180),
        ("MUG-LOGO", 1, Decimal("12.00"), 350),
    ]
    assert [ln.amount for ln in validated.lines] == [Decimal("39.98"), Decimal("12.00")]


def test_prices_come_from_the_catalog_given_at_validation_time() -> None:
    repriced = {
        **PRODUCTS,
        "MUG-LOGO": PRODUCTS["MUG-LOGO"].model_copy(update={"unit_price": Decimal("9.50")}),
    }

    validated = validate_order(make_order(), repriced)

    assert validated.lines[1].unit_price == Decimal("9.50")


@pytest.mark.parametrize("quantity", [1, MAX_QUANTITY])
def test_quantities_from_one_to_the_maximum_are_accepted(quantity: int) -> None:
    order = make_order(items=[LineItem(sku="STICKER-PACK", quantity=quantity)])

    assert validate_order(order, PRODUCTS).lines[0].quantity == quantity


@pytest.mark.parametrize("order_id", ["a", "A" * 64, "shop-42_2024.07:retry-1", "9"])
def test_order_ids_of_letters_digits_and_separators_are_accepted(order_id: str) -> None:
    assert validate_order(make_order(order_id=order_id), PRODUCTS).order.order_id == order_id


def test_text_of_exactly_the_maximum_length_is_accepted() -> None:
    order = make_order(address={"line1": "x" * MAX_TEXT}, payment_token="t" * MAX_TEXT)

    assert validate_order(order, PRODUCTS).order.address.line1 == "x" * MAX_TEXT


# -- items ----------------------------------------------------------------------------------


def test_an_order_without_items_is_rejected() -> None:
    assert_rejected(make_order(items=[]), "items", "at least one line")


def test_an_order_with_too_many_lines_is_rejected() -> None:
    items = [LineItem(sku=f"SKU-{i}", quantity=1) for i in range(MAX_LINES + 1)]

    assert_rejected(make_order(items=items), "items", f"at most {MAX_LINES} lines")


@pytest.mark.parametrize("quantity", [0, -1, -1000])
def test_a_zero_or_negative_quantity_is_rejected(quantity: int) -> None:
    items = [LineItem(sku="MUG-LOGO", quantity=1), LineItem(sku="CAP-NAVY", quantity=quantity)]

    assert_rejected(make_order(items=items), "items[1].quantity", "positive whole number")


def test_a_quantity_above_the_maximum_is_rejected() -> None:
    items = [LineItem(sku="MUG-LOGO", quantity=MAX_QUANTITY + 1)]

    assert_rejected(make_order(items=items), "items[0].quantity", f"at most {MAX_QUANTITY}")


def test_an_unknown_sku_is_rejected_and_named() -> None:
    items = [LineItem(sku="MUG-LOGO", quantity=1), LineItem(sku="MUG-GOLD", quantity=1)]

    assert_rejected(make_order(items=items), "items[1].sku", "unknown SKU 'MUG-GOLD'")


def test_a_huge_unknown_sku_is_cut_short_in_the_message() -> None:
    items = [LineItem(sku="X" * 5000, quantity=1)]

    error = rejection(make_order(items=items))

    assert error.field == "items[0].sku"
    assert len(str(error)) < 100


def test_a_duplicate_sku_is_rejected_pointing_at_the_first_line() -> None:
    items = [
        LineItem(sku="MUG-LOGO", quantity=1),
        LineItem(sku="CAP-NAVY", quantity=1),
        LineItem(sku="MUG-LOGO", quantity=2),
    ]

    assert_rejected(make_order(items=items), "items[2].sku", "duplicates items[0]")


# -- address, payment, ids ------------------------------------------------------------------


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"], ids=["empty", "spaces", "whitespace"])
@pytest.mark.parametrize("field", ADDRESS_FIELDS)
def test_each_blank_address_field_is_rejected(field: str, blank: str) -> None:
    order = make_order(address={field: blank})

    assert_rejected(order, f"address.{field}", "is required")


@pytest.mark.parametrize("country", ["gb", "GBR", "G", "G1", "U.S.", " GB"])
def test_a_country_that_is_not_a_two_letter_code_is_rejected(country: str) -> None:
    assert_rejected(make_order(address={"country": country}), "address.country", "two-letter ISO")


@pytest.mark.parametrize("token", ["", "   "])
def test_a_missing_payment_token_is_rejected(token: str) -> None:
    assert_rejected(make_order(payment_token=token), "payment_token", "is required")


@pytest.mark.parametrize(
    "order_id",
    ["", "-leading-dash", ".hidden", "has space", "A" * 65, "semi;colon", "ünïcode", "a/b"],
)
def test_a_malformed_order_id_is_rejected(order_id: str) -> None:
    assert_rejected(make_order(order_id=order_id), "order_id", "1-64 characters")


@pytest.mark.parametrize("field", [*ADDRESS_FIELDS[:-1], "payment_token"])
def test_text_longer_than_the_maximum_is_rejected(field: str) -> None:
    too_long = "x" * (MAX_TEXT + 1)
    if field == "payment_token":
        order = make_order(payment_token=too_long)
        expected_field = field
    else:
        order = make_order(address={field: too_long})
        expected_field = f"address.{field}"

    assert_rejected(order, expected_field, f"at most {MAX_TEXT} characters")


def test_an_overlong_country_is_rejected() -> None:
    assert_rejected(
        make_order(address={"country": "G" * (MAX_TEXT + 1)}),
        "address.country",
        f"at most {MAX_TEXT} characters",
    )


def test_the_first_broken_rule_is_the_one_reported() -> None:
    order = make_order(order_id="bad id", items=[], payment_token="")

    assert rejection(order).field == "order_id"


def test_an_order_id_with_a_trailing_newline_is_rejected() -> None:
    assert_rejected(make_order(order_id=f"{new_order_id()}\n"), "order_id", "1-64 characters")


def test_a_country_with_a_trailing_newline_is_rejected() -> None:
    assert_rejected(make_order(address={"country": "GB\n"}), "address.country", "two-letter ISO")


# -- parsing --------------------------------------------------------------------------------


def order_json(quantity: object) -> str:
    return json.dumps(
        {
            "order_id": new_order_id(),
            "items": [{"sku": "MUG-LOGO", "quantity": quantity}],
            "address": GOOD_ADDRESS,
            "payment_token": "tok_visa",
        }
    )


@pytest.mark.parametrize(
    "quantity", [1.5, "3", 2.0, True], ids=["fraction", "string", "float", "bool"]
)
def test_a_quantity_that_is_not_a_json_integer_is_rejected_when_parsing(quantity: object) -> None:
    with pytest.raises(ValidationError) as caught:
        Order.model_validate_json(order_json(quantity))

    assert [error["loc"] for error in caught.value.errors()] == [("items", 0, "quantity")]


def test_a_json_integer_quantity_parses_and_validates() -> None:
    order = Order.model_validate_json(order_json(3))

    assert validate_order(order, PRODUCTS).lines[0].quantity == 3
