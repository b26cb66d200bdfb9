"""Schemathesis against the committed OpenAPI spec (docs/openapi.json), in process.

The app is the real one (``create_app``: auth, problem+json handlers, body limit, routers)
over the in-memory FakeService of the API unit tests, so no Temporal is needed. Every
operation gets schemathesis' coverage cases (boundaries, missing and unexpected values,
unexpected methods) plus seeded fuzzing, positive and negative, with a valid API key; the
operations that take an existing order or SKU also get fuzzed bodies on one that exists,
and the codec endpoints run a second time with payload encryption configured.
Each response goes through four checks: not a server error, body conforms to the response
schema, status code documented, content type documented. Every protected operation must
also answer 401 without a key, with a wrong key and with another scheme.

Failures are collected, not raised at the first one, so the figures are complete and each
distinct violation is reported once with a curl command that reproduces it.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from orderflow.domain.models import Address, LineItem, Order
from orderflow.domain.status import OrderStatus
from tests.property.conftest import examples
from tests.unit.test_api_support import AUTH, FakeService, fake_app

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
BASE_URL = "http://testserver"
#: Fuzzed examples per operation and generation mode (positive, negative).
EXAMPLES = 50
#: Fuzzed bodies per operation on an order or SKU that exists.
ON_EXISTING = 20
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
PROBLEM_JSON = "application/problem+json"
#: An order waiting for review (approve answers 200) and one that can be cancelled once.
IN_REVIEW, CANCELLABLE = "A-REVIEW", "A-CANCEL"


@dataclass
class Campaign:
    """What the run saw."""

    tried: Counter[str] = field(default_factory=Counter)  # per operation
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[tuple[str, str, int], str] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    no_negative_input: list[str] = field(default_factory=list)

    def by_class(self) -> Counter[str]:
        classes: Counter[str] = Counter()
        for status, count in self.statuses.items():
            classes[f"{status // 100}xx"] += count
        return classes


def an_order(order_id: str) -> Order:
    return Order(
        order_id=order_id,
        customer_id="cust-001",
        items=[LineItem(sku="TEE-BLACK-M", quantity=2)],
        address=Address(
            name="Ada Lovelace",
            line1="12 Analytical Way",
            city="London",
            postal_code="N1 9GU",
            country="GB",
        ),
        payment_token="tok_visa",
    )


def seeded_service() -> FakeService:
    service = FakeService()
    for order_id, status in ((IN_REVIEW, OrderStatus.AWAITING_REVIEW), (CANCELLABLE, None)):
        service.orders[order_id] = an_order(order_id)
        service.status_of[order_id] = status or OrderStatus.VALIDATED
    return service


def load_schema(**settings: Any) -> BaseSchema:
    """The committed spec, sent to the app over a seeded FakeService with ``settings``."""
    schema = schemathesis.openapi.from_path(SPEC)
    schema.app = fake_app(seeded_service(), **settings)
    return schema


def operations(schema: BaseSchema) -> list[APIOperation]:
    return [result.ok() for result in schema.get_all_operations()]


def exercise(campaign: Campaign, case: Case, where: str = "") -> None:
    """Send ``case`` with the key, run the checks, record what happened."""
    label = case.operation.label + where
    campaign.tried[label] += 1
    try:
        response = case.call(base_url=BASE_URL, headers=AUTH)
    except Exception as err:  # the app let an exception escape: a server error
        campaign.statuses[500] += 1
        campaign.server_errors.append(f"{label}: {type(err).__name__}: {err}")
        return
    campaign.statuses[response.status_code] += 1
    if response.status_code >= 500:
        campaign.server_errors.append(f"{label}: {response.status_code} {response.text[:300]}")
    try:
        case.validate_response(response, checks=CHECKS, headers=AUTH)
    except FailureGroup as group:
        for failure in group.exceptions:
            key = (label, type(failure).__name__, response.status_code)
            if key not in campaign.failures:
                campaign.failures[key] = (
                    f"{label} -> {response.status_code}: {failure}\n"
                    f"  response: {response.text[:400]}\n"
                    f"  reproduce: {case.as_curl_command(headers=AUTH)}"
                )


def fuzz(
    campaign: Campaign,
    operation: APIOperation,
    mode: GenerationMode,
    count: int,
    where: str = "",
    **fixed: Any,
) -> None:
    """``count`` seeded examples of ``operation`` in ``mode``."""

    @settings(
        derandomize=True,
        database=None,
        max_examples=count,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: failures are collected
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(generation_mode=mode, **fixed))
    def run(case: Case) -> None:
        exercise(campaign, case, where)

    try:
        run()
    except Unsatisfiable:  # e.g. GET /healthz: no parameter, no body, nothing to negate
        campaign.no_negative_input.append(f"{operation.label}{where} ({mode.value})")


#: Operations that act on something that must exist to reach their 2xx answers.
ON_SOMETHING_THAT_EXISTS: dict[str, dict[str, str]] = {
    "GET /orders/{order_id}": {"order_id": IN_REVIEW},
    "POST /orders/{order_id}/approve": {"order_id": IN_REVIEW},
    "POST /orders/{order_id}/cancel": {"order_id": CANCELLABLE},
    "PUT /inventory/{sku}": {"sku": "TEE-BLACK-M"},
}


#: The codec endpoints answer differently once payload encryption is configured.
ENCRYPTION = {"encryption_keys": "k1:" + base64.b64encode(bytes(range(32))).decode()}


def run_operation(
    campaign: Campaign, schema: BaseSchema, operation: APIOperation, where: str = ""
) -> None:
    """Coverage cases, then seeded fuzzing, positive and negative."""
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    generation = schema.config.generation_for(operation=operation)
    for case in schema.iter_coverage_cases(
        operation, generation_modes=modes, generation_config=generation
    ):
        exercise(campaign, case, where)
    for mode in modes:
        fuzz(campaign, operation, mode, EXAMPLES, where)
    path_parameters = ON_SOMETHING_THAT_EXISTS.get(operation.label)
    if path_parameters:
        fuzz(
            campaign,
            operation,
            GenerationMode.POSITIVE,
            ON_EXISTING,
            where,
            path_parameters=path_parameters,
        )


@pytest.fixture(scope="module")
def campaign() -> Campaign:
    found = Campaign()
    schema = load_schema()  # as the API unit tests configure it: no payload encryption
    for operation in operations(schema):
        run_operation(found, schema, operation)
    encrypted = load_schema(**ENCRYPTION)
    for operation in operations(encrypted):
        if "codec" in (operation.tags or []):
            run_operation(found, encrypted, operation, " [encryption on]")
    return found


def test_the_committed_spec_is_what_the_app_serves() -> None:
    """Fuzzing the committed file is only meaningful if it is the app's own schema."""
    from orderflow.api.openapi import openapi_schema

    assert load_schema().raw_schema == openapi_schema()


def test_no_input_makes_the_api_answer_with_a_server_error(campaign: Campaign) -> None:
    classes = campaign.by_class()
    print(
        f"\n[schemathesis, in process] inputs tried: {sum(campaign.tried.values())} over "
        f"{len(campaign.tried)} operations; 2xx: {classes['2xx']}, 4xx: {classes['4xx']}, "
        f"5xx: {classes['5xx']}; distinct spec violations: {len(campaign.failures)}"
    )
    print("  per operation: " + ", ".join(f"{k} {v}" for k, v in sorted(campaign.tried.items())))
    print("  status codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(campaign.statuses.items())))
    assert sum(campaign.tried.values()) > 0
    assert classes["5xx"] == 0, "\n".join(campaign.server_errors)
    assert not campaign.server_errors


def test_every_response_conforms_to_the_committed_spec(campaign: Campaign) -> None:
    assert not campaign.failures, "\n\n".join(campaign.failures.values())


def header(response: Response, name: str) -> str:
    """One header of a schemathesis response (it keeps every value of each header)."""
    values = {k.lower(): v for k, v in response.headers.items()}.get(name.lower(), [])
    return values[0] if values else ""


@dataclass
class Refusal:
    operation: str
    credentials: str
    status: int
    problem: bool
    challenge: str


def unauthenticated(schema: BaseSchema) -> Iterator[Refusal]:
    """Each protected operation, a few valid inputs, each sent without a valid key in four ways."""
    credentials: dict[str, dict[str, str]] = {
        "no key": {},
        "a wrong key": {"Authorization": "Bearer wrong-key-0123456789abcdef"},
        "another scheme": {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="},
        "an empty bearer": {"Authorization": "Bearer "},
    }
    for operation in operations(schema):
        if not operation.definition.raw.get("security"):
            continue
        for case in examples(operation.as_strategy(generation_mode=GenerationMode.POSITIVE), 3):
            for name, headers in credentials.items():
                case.headers = {
                    k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"
                }
                response = case.call(base_url=BASE_URL, headers=headers)
                case.validate_response(response, checks=CHECKS, headers=headers)
                yield Refusal(
                    operation=operation.label,
                    credentials=name,
                    status=response.status_code,
                    problem=header(response, "content-type") == PROBLEM_JSON,
                    challenge=header(response, "www-authenticate"),
                )


def test_every_protected_operation_refuses_a_missing_or_wrong_key_with_401() -> None:
    schema = load_schema()
    refusals = list(unauthenticated(schema))
    protected = {r.operation for r in refusals}

    print(
        f"\n[schemathesis, no/wrong key] inputs tried: {len(refusals)} over {len(protected)} "
        f"protected operations; 401: {sum(r.status == 401 for r in refusals)}"
    )
    assert len(protected) == len(operations(schema)) - 1  # all but GET /healthz
    wrong = [r for r in refusals if r.status != 401 or not r.problem]
    assert not wrong, wrong
    assert all(r.challenge.startswith("Bearer") for r in refusals)
    assert all(
        ('error="invalid_token"' in r.challenge) == (r.credentials == "a wrong key")
        for r in refusals
    )


def test_money_in_responses_is_a_decimal_string() -> None:
    """The total in a 201 is text like "61.14" (the spec's pattern), never a JSON number."""
    schema = load_schema()
    operation = schema["/orders"]["POST"]
    case = operation.Case(
        body={
            "items": [{"sku": "TEE-BLACK-M", "quantity": 1}],
            "address": {
                "name": "Ada",
                "line1": "1 Way",
                "city": "London",
                "postal_code": "N1",
                "country": "GB",
            },
            "payment_token": "tok_visa",
        },
        media_type="application/json",
    )
    response = case.call(base_url=BASE_URL, headers=AUTH)
    case.validate_response(response, checks=CHECKS, headers=AUTH)
    total = response.json()["total"]
    assert all(isinstance(value, str) for value in total.values()), total
    assert Decimal(total["total"]) == sum(
        Decimal(total[k]) for k in ("subtotal", "shipping_fee", "tax")
    )
