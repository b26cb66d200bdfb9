"""Order payloads for the property tests: valid ones, and ones broken in exactly one way.

Every generated :class:`Payload` says which field a correct refusal must name, once for
the domain (``Order.model_validate_json`` then ``validate_order``) and once for the REST
API (``POST /orders``), because the two draw the line in slightly different places: the
API requires every address field and refuses unknown fields and customer ids over 200
characters, while the domain fills defaults and ignores extras. ``None`` means the payload
must be accepted. Field names use the API's notation (``items[0].quantity``); ``body``
means the document as a whole (not JSON, or not an object).

The kinds cover the categories of the issue: empty, negative, zero, huge and fractional
quantities, unknown SKUs, unicode and very long strings, missing fields, wrong types,
invalid JSON, and client-sent prices (which must be ignored or refused, never used).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from orderflow.app.intake import text_problem
from orderflow.domain.catalog import CATALOG
from orderflow.domain.validation import MAX_LINES, MAX_QUANTITY, MAX_TEXT

T = TypeVar("T")

SKUS: tuple[str, ...] = tuple(product.sku for product in CATALOG)
PRICES = {product.sku: product.unit_price for product in CATALOG}
ADDRESS_FIELDS = ("name", "line1", "city", "postal_code", "country")
SERVICE_LEVELS = ("standard", "express")
#: Long strings stay under 4000 characters so that a body stays under the API's 64 KiB
#: limit even in UTF-8 (oversize bodies are tested on their own).
LONG = 4000


@dataclass(frozen=True)
class Payload:
    """One request body and what a correct answer to it names."""

    kind: str
    body: Any  # a JSON-able value, or ``bytes`` sent as they are
    domain_field: str | None
    api_field: str | None

    def raw(self, *, ensure_ascii: bool = True) -> bytes:
        """The body as bytes (compact UTF-8 JSON unless it is raw bytes already)."""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, ensure_ascii=ensure_ascii).encode("utf-8")


# -- building blocks -------------------------------------------------------------------------

order_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", fullmatch=True)
countries = st.from_regex(r"[A-Z]{2}", fullmatch=True)


def texts(min_size: int = 1, max_size: int = MAX_TEXT) -> st.SearchStrategy[str]:
    """Any unicode text the rules accept: not blank, no control characters, at most
    ``max_size`` characters."""
    return st.text(min_size=min_size, max_size=max_size).filter(
        lambda s: bool(s.strip()) and not text_problem(s)
    )


blank_texts = st.text(alphabet=st.sampled_from(" \t\r\n\u00a0\u2003\u3000"), max_size=30)
long_texts = st.text(min_size=MAX_TEXT + 1, max_size=LONG).filter(lambda s: bool(s.strip()))
json_scalars_not_str = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
)
not_text = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
not_object = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
)


@st.composite
def valid_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A body every rule accepts, with unicode text and quantities from 1 to the maximum."""
    skus = draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=len(SKUS), unique=True))
    body: dict[str, Any] = {
        "order_id": draw(order_ids),
        "customer_id": draw(st.text(max_size=MAX_TEXT)),
        "items": [
            {"sku": sku, "quantity": draw(st.integers(1, MAX_QUANTITY), label=f"qty {sku}")}
            for sku in skus
        ],
        "address": {
            "name": draw(texts()),
            "line1": draw(texts()),
            "city": draw(texts()),
            "postal_code": draw(texts(max_size=20)),
            "country": draw(countries),
        },
        "payment_token": draw(texts(max_size=64)),
    }
    if draw(st.booleans()):
        body["service_level"] = draw(st.sampled_from(SERVICE_LEVELS))
    return body


def the_largest_order() -> dict[str, Any]:
    """Every SKU at the maximum quantity, express: the highest total the rules allow."""
    return {
        "order_id": "max-order",
        "items": [{"sku": sku, "quantity": MAX_QUANTITY} for sku in SKUS],
        "address": {
            "name": "Ada Lovelace",
            "line1": "12 Analytical Way",
            "city": "London",
            "postal_code": "N1 9GU",
            "country": "GB",
        },
        "payment_token": "tok_visa",
        "service_level": "express",
    }


# -- one defect each ---------------------------------------------------------------------------

#: kind -> (draw, valid body) -> (body, domain field, api field); the body may be mutated.
Mutation = Callable[[st.DrawFn, dict[str, Any]], tuple[Any, str | None, str | None]]
MUTATIONS: dict[str, Mutation] = {}


def mutation(kind: str) -> Callable[[Mutation], Mutation]:
    def register(fn: Mutation) -> Mutation:
        MUTATIONS[kind] = fn
        return fn

    return register


def _line(draw: st.DrawFn, body: dict[str, Any]) -> int:
    return draw(st.integers(0, len(body["items"]) - 1), label="line")


def _set_quantity(
    draw: st.DrawFn, body: dict[str, Any], value: st.SearchStrategy[Any]
) -> tuple[Any, str, str]:
    i = _line(draw, body)
    body["items"][i]["quantity"] = draw(value, label="quantity")
    return body, f"items[{i}].quantity", f"items[{i}].quantity"


@mutation("quantity: zero")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    return _set_quantity(draw, body, st.just(0))


@mutation("quantity: negative")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    return _set_quantity(
        draw, body, st.one_of(st.integers(max_value=-1), st.just(-(2**63)), st.just(-(10**40)))
    )


@mutation("quantity: huge")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    extremes = st.sampled_from([MAX_QUANTITY + 1, 2**31, 2**53 + 1, 2**63, 2**64, 10**100])
    return _set_quantity(draw, body, st.one_of(st.integers(min_value=MAX_QUANTITY + 1), extremes))


@mutation("quantity: fractional or float")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    # 2.0 too: a quantity is a JSON integer, not a number that happens to be whole.
    return _set_quantity(
        draw,
        body,
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False),
            st.sampled_from([0.5, 1.5, 2.0, -1.0, 1e-9, 1e308, 999.999]),
        ),
    )


@mutation("quantity: wrong type")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    return _set_quantity(
        draw, body, st.one_of(st.sampled_from(["1", "one", "", "1.0", True, False, None]), not_text)
    )


@mutation("quantity: missing")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    i = _line(draw, body)
    del body["items"][i]["quantity"]
    return body, f"items[{i}].quantity", f"items[{i}].quantity"


@mutation("sku: unknown (unicode, long, empty, near-miss)")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    i = _line(draw, body)
    known = body["items"][i]["sku"]
    body["items"][i]["sku"] = draw(
        st.one_of(
            st.text(max_size=60),
            st.text(min_size=MAX_TEXT, max_size=LONG),
            st.sampled_from(["", " ", known.lower(), f" {known}", f"{known}\n", known + "\x00"]),
        ).filter(lambda s: s not in SKUS),
        label="sku",
    )
    return body, f"items[{i}].sku", f"items[{i}].sku"


@mutation("sku: wrong type")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    i = _line(draw, body)
    body["items"][i]["sku"] = draw(not_text, label="sku")
    return body, f"items[{i}].sku", f"items[{i}].sku"


@mutation("sku: missing")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    i = _line(draw, body)
    del body["items"][i]["sku"]
    return body, f"items[{i}].sku", f"items[{i}].sku"


@mutation("sku: duplicate line")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    i = _line(draw, body)
    body["items"].append({"sku": body["items"][i]["sku"], "quantity": 1})
    n = len(body["items"]) - 1
    return body, f"items[{n}].sku", f"items[{n}].sku"


@mutation("items: empty")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    body["items"] = []
    return body, "items", "items"


@mutation("items: missing")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    del body["items"]
    return body, "items", "items"


@mutation("items: too many lines")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    count = draw(st.integers(MAX_LINES + 1, 3 * MAX_LINES), label="lines")
    body["items"] = [{"sku": SKUS[n % len(SKUS)], "quantity": 1} for n in range(count)]
    return body, "items", "items"


@mutation("items: wrong type")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    body["items"] = draw(
        st.one_of(
            st.none(),
            st.text(max_size=10),
            st.integers(),
            st.dictionaries(st.text(), st.integers(), max_size=2),
        ),
        label="items",
    )
    return body, "items", "items"


@mutation("line: not an object")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    i = _line(draw, body)
    body["items"][i] = draw(not_object, label="line")
    return body, f"items[{i}]", f"items[{i}]"


@mutation("line: client-sent price")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    # The domain ignores it and prices from the catalog; the API refuses unknown fields.
    i = _line(draw, body)
    body["items"][i]["unit_price"] = draw(
        st.sampled_from(["0.001", "0.005", "-1.00", "1e-30", "NaN", 0.001, 0, 1e308]), label="price"
    )
    return body, None, f"items[{i}].unit_price"


def _address_field(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(ADDRESS_FIELDS), label="address field")


@mutation("address: field missing")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    field = _address_field(draw)
    del body["address"][field]
    return body, f"address.{field}", f"address.{field}"


@mutation("address: field blank")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    field = _address_field(draw)
    body["address"][field] = draw(blank_texts, label="blank")
    return body, f"address.{field}", f"address.{field}"


@mutation("address: field too long (unicode)")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    field = _address_field(draw)
    body["address"][field] = draw(long_texts, label="long")
    return body, f"address.{field}", f"address.{field}"


@mutation("address: field wrong type")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    field = _address_field(draw)
    body["address"][field] = draw(not_text, label="value")
    return body, f"address.{field}", f"address.{field}"


@mutation("address: country not a two-letter code")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    body["address"]["country"] = draw(
        st.one_of(
            texts(max_size=8),
            st.sampled_from(["gb", "GBR", "G", "G B", "ＧＢ", "ÄB", "GB ", "G1", "Gb"]),
        ).filter(lambda s: not (len(s) == 2 and s.isascii() and s.isalpha() and s.isupper())),
        label="country",
    )
    return body, "address.country", "address.country"


@mutation("address: missing")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    del body["address"]
    # The domain defaults to an empty address (its first field is then blank).
    return body, "address.name", "address"


@mutation("address: wrong type")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    body["address"] = draw(not_object, label="address")
    return body, "address", "address"


@mutation("payment_token: missing")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    del body["payment_token"]
    return body, "payment_token", "payment_token"


@mutation("payment_token: blank or too long")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    body["payment_token"] = draw(st.one_of(blank_texts, long_texts), label="token")
    return body, "payment_token", "payment_token"


@mutation("payment_token: wrong type")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    body["payment_token"] = draw(not_text, label="token")
    return body, "payment_token", "payment_token"


@mutation("order_id: not a valid id (unicode, long, empty)")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    body["order_id"] = draw(
        st.one_of(
            st.text(max_size=80),
            st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{64,150}", fullmatch=True),
            st.sampled_from(["", " ", "-abc", ".x", "a b", "a/b", "ä", "a\n", "a" * 65]),
        ).filter(lambda s: not _valid_order_id(s)),
        label="order id",
    )
    return body, "order_id", "order_id"


def _valid_order_id(value: str) -> bool:
    from orderflow.domain.validation import ORDER_ID_PATTERN

    return ORDER_ID_PATTERN.fullmatch(value) is not None


@mutation("order_id: wrong type")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    body["order_id"] = draw(not_text.filter(lambda v: v is not None), label="order id")
    return body, "order_id", "order_id"


@mutation("order_id: missing or null")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    # Required by the domain; optional in the API (derived from Idempotency-Key, or new).
    if draw(st.booleans(), label="null"):
        body["order_id"] = None
    else:
        del body["order_id"]
    return body, "order_id", None


@mutation("service_level: unknown or wrong type")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    body["service_level"] = draw(
        st.one_of(
            st.text(max_size=20).filter(lambda s: s not in SERVICE_LEVELS),
            st.sampled_from(["STANDARD", "Express", "overnight", ""]),
            not_text,
        ),
        label="level",
    )
    return body, "service_level", "service_level"


@mutation("customer_id: very long")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    # The domain has no rule for customer ids; the API caps them at MAX_TEXT.
    body["customer_id"] = draw(long_texts, label="customer")
    return body, None, "customer_id"


@mutation("customer_id: wrong type")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    body["customer_id"] = draw(not_text, label="customer")
    return body, "customer_id", "customer_id"


@mutation("unknown top-level field (a total, a discount)")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    name = draw(st.sampled_from(["total", "discount", "unit_price", "amount", "charge"]))
    body[name] = draw(st.sampled_from(["0.001", "-999999999.99", "1e400", 0.1, 10**30]))
    return body, None, name


@mutation("document: not an object")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    return draw(not_object, label="document"), "body", "body"


@mutation("document: truncated or trailing garbage")
def _(draw: st.DrawFn, body: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    text = json.dumps(body).encode()
    if draw(st.booleans(), label="truncate"):
        # A proper prefix of a JSON object is never valid JSON (b"" included).
        raw = text[: draw(st.integers(0, len(text) - 1), label="cut")]
    else:
        raw = text + draw(st.sampled_from([b"x", b",", b"}", b"{}", b" 1", b"]"]), label="tail")
    return raw, "body", "body"


def one_defect(kinds: list[str] | None = None) -> st.SearchStrategy[Payload]:
    """A valid body broken in exactly one way, of one of ``kinds`` (default: all)."""
    chosen = sorted(kinds if kinds is not None else MUTATIONS)

    @st.composite
    def build(draw: st.DrawFn) -> Payload:
        kind = draw(st.sampled_from(chosen), label="kind")
        body, domain_field, api_field = MUTATIONS[kind](draw, draw(valid_bodies()))
        return Payload(kind, body, domain_field, api_field)

    return build()


def valid_payloads() -> st.SearchStrategy[Payload]:
    """Valid bodies, the largest order among them."""
    return st.one_of(
        st.just(Payload("valid: largest order", the_largest_order(), None, None)),
        valid_bodies().map(lambda body: Payload("valid", body, None, None)),
    )


def _order_json(name: bytes = b"Ada Lovelace", quantity: bytes = b"1", depth: int = 1) -> bytes:
    """A valid one-line order as JSON text, with raw bytes for the name and the quantity,
    and the line nested ``depth`` lists deep."""
    body = the_largest_order()
    body["order_id"] = "A-1"
    body["items"] = [{"sku": "MUG-LOGO", "quantity": 0}]
    body["address"]["name"] = "@NAME@"
    raw = json.dumps(body).encode()
    raw = raw.replace(b"@NAME@", name).replace(b'"quantity": 0', b'"quantity": ' + quantity)
    return raw.replace(b'"items": [', b'"items": ' + b"[" * depth, 1).replace(
        b"}]", b"}" + b"]" * depth, 1
    )


#: A valid order but for bytes that are not UTF-8 JSON, or JSON that Python's json module
#: and pydantic's parser read differently. The domain parser refuses each as ``body``.
MALFORMED: dict[str, bytes] = {
    "invalid UTF-8 (a latin-1 name)": _order_json(name="Adé Lovelace".encode("latin-1")),
    "invalid UTF-8 (a stray 0xff byte)": _order_json(name=b"Ada \xff"),
    "a lone UTF-16 surrogate escape in the name": _order_json(name=b"Ada \\ud800"),
    "a quantity of 5000 digits": _order_json(quantity=b"9" * 5000),
    "the line nested 5000 lists deep": _order_json(depth=5000),
}


def examples(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """``count`` deterministic draws from ``strategy`` (the same list on every run)."""
    found: list[T] = []

    @settings(
        derandomize=True,
        database=None,
        max_examples=count,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: T) -> None:
        found.append(value)

    collect()
    return found[:count]


def balanced_bad_payloads(per_kind: int) -> list[Payload]:
    """``per_kind`` payloads of every kind the API must refuse (deterministic)."""
    refused = [kind for kind in sorted(MUTATIONS) if _api_refuses(kind)]
    found: list[Payload] = []
    for kind in refused:
        found += examples(one_defect([kind]), per_kind)
    return found


def _api_refuses(kind: str) -> bool:
    probe = examples(one_defect([kind]), 1)[0]
    return probe.api_field is not None
