"""The one strict order model every door reads orders with (API, CLI, console).

Shape and type are checked here: unknown fields are refused (a user who thinks they set a
price or a discount must hear that they did not), quantities must be JSON integers, strings
have bounded lengths, ids follow their pattern. The business rules (known SKU, positive
quantity, two-letter country, ...) are ``orderflow.domain.validation``'s; the order service
runs them at the door too, before any workflow starts. Every refusal is an
``OrderRejected`` naming each field and its rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from orderflow.app.errors import FieldError, OrderRejected
from orderflow.domain.models import Address, LineItem, Order, ServiceLevel
from orderflow.domain.validation import MAX_LINES, MAX_TEXT, ORDER_ID_PATTERN

#: SKUs are at most this long (the store's column).
MAX_SKU = 64
#: An order id's rule, as the domain states it.
ORDER_ID_RULE = "must be 1-64 characters of letters, digits, '.', '_', ':' or '-'"


class StrictModel(BaseModel):
    """Unknown fields refused; strings must be valid Unicode (no lone surrogates)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                raise ValueError(problem)
        return value


#: C0 control characters (and DEL) but tab, line feed and carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text_problem(value: str) -> str:
    """Why ``value`` cannot be stored as text ("" when it can): JSON may escape lone UTF-16
    surrogates ("\\ud800"), which nothing downstream can encode, and control characters
    (NUL above all: PostgreSQL refuses it) have no place in an order."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (no lone surrogates)"
    if _CONTROL.search(value):
        return "must not contain control characters"
    return ""


class LineItemCreate(StrictModel):
    """One line: which SKU and how many (a JSON integer; 1.0 or "1" are refused)."""

    sku: str = Field(max_length=MAX_SKU, examples=["TEE-BLACK-M"])
    quantity: int = Field(strict=True, examples=[2])


class AddressCreate(StrictModel):
    """Where to ship. Every field is required; country is a two-letter ISO code."""

    name: str = Field(max_length=MAX_TEXT, examples=["Ada Lovelace"])
    line1: str = Field(max_length=MAX_TEXT, examples=["12 Analytical Way"])
    city: str = Field(max_length=MAX_TEXT, examples=["London"])
    postal_code: str = Field(max_length=MAX_TEXT, examples=["N1 9GU"])
    country: str = Field(max_length=MAX_TEXT, examples=["GB"])


class OrderCreate(StrictModel):
    """An order as a client submits it; ``order_id`` is optional (the door assigns one)."""

    order_id: str | None = Field(
        default=None,
        pattern=ORDER_ID_PATTERN.pattern,
        description="Your id for the order; default: derived from Idempotency-Key, or new.",
    )
    customer_id: str = Field(default="", max_length=MAX_TEXT)
    items: list[LineItemCreate] = Field(min_length=1, max_length=MAX_LINES)
    address: AddressCreate
    payment_token: str = Field(max_length=MAX_TEXT, repr=False, examples=["tok_visa"])
    service_level: ServiceLevel = ServiceLevel.STANDARD

    def to_order(self, order_id: str) -> Order:
        """The domain order under ``order_id``."""
        return Order(
            order_id=order_id,
            customer_id=self.customer_id,
            items=[LineItem(sku=item.sku, quantity=item.quantity) for item in self.items],
            address=Address(**self.address.model_dump()),
            payment_token=self.payment_token,
            service_level=self.service_level,
        )


def field_path(loc: Sequence[int | str]) -> str:
    """``("body", "items", 0, "quantity")`` -> ``items[0].quantity`` (the domain's notation)."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        where = str(parts.pop(0))
        if not parts or isinstance(parts[0], int):
            # The whole body (missing, not JSON, or a JSON syntax error at a position).
            return where
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def rule_of(error: ErrorDetails | dict[str, Any]) -> str:
    """The rule a pydantic error says was broken, in the words the domain uses."""
    kind = error.get("type", "")
    context = error.get("ctx") or {}
    loc = error.get("loc", ())
    if kind == "extra_forbidden":
        return "is not a field of an order (unknown fields are refused)"
    if kind == "missing":
        return "is required"
    if kind == "string_pattern_mismatch" and loc and loc[-1] == "order_id":
        return ORDER_ID_RULE
    if kind == "string_too_long":
        return f"must be at most {context.get('max_length')} characters"
    if kind == "too_long":
        return f"must contain at most {context.get('max_length')} lines"
    if kind == "too_short":
        return "must contain at least one line"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return "must be a whole number (a JSON integer)"
    if kind == "json_invalid" and "error" in context:
        return f"not a valid JSON document: {context['error']}"
    message = str(error.get("msg", "is invalid"))
    message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def rejection(err: ValidationError, where: str = "order") -> OrderRejected:
    """An ``OrderRejected`` naming every field pydantic refused (never echoing the input)."""
    errors = [
        FieldError(field_path(error.get("loc", ())) or where, rule_of(error))
        for error in err.errors(include_input=False)
    ]
    return OrderRejected(errors or [FieldError(where, "is invalid")])


def parse_order(raw: bytes, *, max_bytes: int, where: str = "order") -> OrderCreate:
    """Read an order from the bytes of a JSON document (a file, standard input).

    Raises:
        OrderRejected: too large, not UTF-8, not JSON, not an object, or an unknown field,
            a wrong type, an over-long string...; each problem named by field.
    """
    if len(raw) > max_bytes:
        raise OrderRejected.one(
            where, f"is {len(raw):,} bytes; an order is at most {max_bytes:,} bytes"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise OrderRejected.one(
            where, f"is not UTF-8 text (byte {raw[err.start]:#04x} at position {err.start})"
        ) from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as err:
        detail = str(err) if isinstance(err, json.JSONDecodeError) else "too deeply nested"
        raise OrderRejected.one(where, f"is not a valid JSON document: {detail}") from None
    if not isinstance(data, dict):
        raise OrderRejected.one(where, "must be a JSON object")
    try:
        return OrderCreate.model_validate(data)
    except ValidationError as err:
        raise rejection(err, where) from None
