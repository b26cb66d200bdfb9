"""Bad input through the whole stack: real HTTP to uvicorn, a real worker, a real Temporal.

Generated bad orders (two of every kind the API must refuse, see ``conftest.py``) and
oversize bodies (with a Content-Length and chunked) are posted to ``POST /orders``. Each
must be a 4xx ``application/problem+json`` naming the field at fault (413 for size), never
a 5xx. Afterwards nothing may have been charged, reserved or shipped: the payment ledger,
the reservations and the shipments are empty, the stock is untouched, the audit is clean,
no order left a row and no workflow was started for any of them. Some refusals happen in
the API's request schema, others in the business rules the order service runs at the door
(unknown SKU, quantity over the maximum, blank city...), so both paths are covered. Bytes
that are not UTF-8 JSON get a test of their own.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from orderflow.app.orders import order_id_for_key, workflow_id
from orderflow.config import Settings
from orderflow.store import Store
from orderflow.store.audit import run_audit
from orderflow.store.tables import orders, payments, reservations, shipments
from tests.e2e.test_api import Api, an_order, api_stack
from tests.property.conftest import MALFORMED, Payload, balanced_bad_payloads

PROBLEM_JSON = "application/problem+json"
#: The problem type of a refusal by the business rules (after the request schema).
BY_RULE = "urn:orderflow:problem:invalid-order"
PER_KIND = 2
CONCURRENCY = 8
LIMIT = Settings().max_body_bytes  # what api_stack's app enforces (the default)


@pytest.fixture(scope="module")
async def stack(
    temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    """One running stack for the module: nothing in it may ever be charged."""
    async with api_stack(temporal_env, tmp_path_factory.mktemp("data")) as running:
        yield running


@dataclass
class Tally:
    tried: int = 0
    rejected_correctly: int = 0
    server_errors: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)

    def line(self, what: str) -> str:
        return (
            f"\n[{what}] inputs tried: {self.tried}, rejected correctly: "
            f"{self.rejected_correctly}, 5xx seen: {self.server_errors}; status codes: "
            + ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        )


def judge(tally: Tally, what: str, response: httpx.Response, field_name: str | None) -> None:
    """A correct refusal: 4xx problem+json whose ``errors`` name ``field_name``."""
    tally.tried += 1
    tally.statuses[response.status_code] += 1
    if response.status_code >= 500:
        tally.server_errors += 1
    problems = []
    if not 400 <= response.status_code < 500:
        problems.append(f"status {response.status_code}")
    if response.headers.get("content-type") != PROBLEM_JSON:
        problems.append(f"content-type {response.headers.get('content-type')}")
    else:
        problem = response.json()
        if problem.get("status") != response.status_code:
            problems.append("problem status differs")
        if field_name is not None:
            named = [e.get("field") for e in problem.get("errors", [])]
            if field_name not in named or not all(e.get("message") for e in problem["errors"]):
                problems.append(f"expected a rule for {field_name!r}, got errors {named}")
    if problems:
        tally.wrong.append(f"{what}: {'; '.join(problems)}: {response.text[:300]}")
    else:
        tally.rejected_correctly += 1


def with_id(payload: Payload, order_id: str) -> bytes:
    """The payload under a fresh order id (unless the id is what is wrong with it)."""
    body = payload.body
    if isinstance(body, dict) and not payload.kind.startswith("order_id"):
        body = {**body, "order_id": order_id}
    return Payload(payload.kind, body, payload.domain_field, payload.api_field).raw(
        ensure_ascii=order_id.endswith(("0", "2", "4", "6", "8"))  # escaped and raw UTF-8
    )


def rows(store: Store) -> dict[str, int]:
    """Rows in the tables a charge, a reservation or a shipment writes."""
    with store.engine.connect() as conn:
        return {
            table.name: conn.scalar(select(func.count()).select_from(table)) or 0
            for table in (payments, reservations, shipments)
        }


def outcome_rows(store: Store, prefix: str) -> dict[str, tuple[Any, ...]]:
    """Order rows under ``prefix``: (status, total, refunded, released, shipment_cancelled)."""
    with store.engine.connect() as conn:
        found = conn.execute(
            select(
                orders.c.order_id,
                orders.c.status,
                orders.c.total,
                orders.c.refunded,
                orders.c.released,
                orders.c.shipment_cancelled,
            ).where(orders.c.order_id.startswith(prefix, autoescape=True))
        )
        return {row[0]: tuple(row[1:]) for row in found}


async def assert_nothing_started(client: Client, order_ids: set[str]) -> None:
    """No workflow exists for any of ``order_ids``: they were refused at the door."""
    for order_id in sorted(order_ids):
        with pytest.raises(RPCError) as err:
            await client.get_workflow_handle(workflow_id(order_id)).describe()
        assert err.value.status is RPCStatusCode.NOT_FOUND, order_id


def assert_nothing_charged_or_reserved(
    api: Api, stock_before: dict[str, dict[str, int]], prefix: str
) -> None:
    """No payment, reservation or shipment anywhere; stock as it was; the audit clean; no
    order under ``prefix`` left a row (none of them ever started)."""
    assert outcome_rows(api.store, prefix) == {}
    assert rows(api.store) == {"payments": 0, "reservations": 0, "shipments": 0}
    assert api.store.availability() == stock_before
    audit = run_audit(api.store.engine)
    assert audit.ok, audit.violations
    assert audit.orders_checked == 0  # no order has a payment, a reservation or a shipment


async def test_bad_orders_are_refused_naming_the_field_and_nothing_is_charged(
    stack: Api, temporal_env: WorkflowEnvironment
) -> None:
    api = stack
    prefix = f"bad-{uuid.uuid4().hex[:8]}-"
    payloads = balanced_bad_payloads(PER_KIND)
    stock_before = api.store.availability()
    tally = Tally()
    gate = asyncio.Semaphore(CONCURRENCY)

    async def post(index: int, payload: Payload) -> tuple[str, Payload, httpx.Response]:
        order_id = f"{prefix}{index:03d}"
        async with gate:
            response = await api.client.post(
                "/orders",
                content=with_id(payload, order_id),
                headers={"Content-Type": "application/json", "Idempotency-Key": order_id},
            )
        return order_id, payload, response

    answers = await asyncio.gather(*(post(i, p) for i, p in enumerate(payloads)))
    by_rule: set[str] = set()
    for order_id, payload, response in answers:
        judge(tally, payload.kind, response, payload.api_field)
        refused = response.headers.get("content-type") == PROBLEM_JSON
        if refused and response.json().get("type") == BY_RULE:
            by_rule.add(order_id)

    print(
        tally.line(f"e2e bad orders, {len(payloads) // PER_KIND} kinds")
        + f"; refused by the request schema: {len(payloads) - len(by_rule)}, "
        f"by the business rules at the door: {len(by_rule)}"
    )
    assert tally.server_errors == 0
    assert not tally.wrong, "\n".join(tally.wrong)
    assert tally.rejected_correctly == len(payloads)
    assert tally.statuses[422] == len(payloads)
    assert by_rule, "no payload reached the business rules"
    await assert_nothing_started(temporal_env.client, {order_id for order_id, _, _ in answers})
    assert_nothing_charged_or_reserved(api, stock_before, prefix)


def padded_order(size: int, order_id: str) -> bytes:
    """A valid order whose customer id pads the JSON body to exactly ``size`` bytes."""
    body = an_order(order_id=order_id, customer_id="")
    bare = len(json.dumps(body).encode())
    body["customer_id"] = "x" * (size - bare)
    raw = json.dumps(body).encode()
    assert len(raw) == size
    return raw


async def chunks(raw: bytes, size: int = 16 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


async def test_oversize_bodies_are_413_with_or_without_a_content_length(stack: Api) -> None:
    api = stack
    prefix = f"big-{uuid.uuid4().hex[:8]}-"
    stock_before = api.store.availability()
    tally = Tally()
    sizes = [LIMIT + 1, 2 * LIMIT, 1024 * 1024]
    sent: list[str] = []

    for size in sizes:
        for chunked in (False, True):
            order_id = f"{prefix}{size}-{'chunked' if chunked else 'length'}"
            raw = padded_order(size, order_id)
            headers = {"Content-Type": "application/json", "Idempotency-Key": order_id}
            content: Any = chunks(raw) if chunked else raw
            async with httpx.AsyncClient(base_url=api.url, headers=api.client.headers) as fresh:
                # A fresh connection each: the server closes it after refusing.
                response = await fresh.post("/orders", content=content, headers=headers)
            judge(tally, f"{size} bytes {'chunked' if chunked else 'with length'}", response, None)
            if response.status_code != 413:
                tally.wrong.append(f"{order_id}: {response.status_code}, not 413")
            elif response.json()["type"] != "urn:orderflow:problem:body-too-large":
                tally.wrong.append(f"{order_id}: problem type {response.json()['type']}")
            sent.append(order_id)

    # At the limit exactly, the same order is read and processed (here: refused by rule).
    at_limit = await api.client.post(
        "/orders",
        content=padded_order(LIMIT, f"{prefix}at-limit"),
        headers={"Content-Type": "application/json"},
    )

    print(tally.line("e2e oversize bodies"))
    assert tally.server_errors == 0
    assert not tally.wrong, "\n".join(tally.wrong)
    assert at_limit.status_code == 422, at_limit.text
    assert [e["field"] for e in at_limit.json()["errors"]] == ["customer_id"]
    for order_id in sent:  # no workflow was started for any of them
        for candidate in (order_id, order_id_for_key(order_id)):
            assert (await api.client.get(f"/orders/{candidate}")).status_code == 404
    assert_nothing_charged_or_reserved(api, stock_before, prefix)


async def test_bytes_that_are_not_json_are_4xx_naming_the_body_never_5xx(stack: Api) -> None:
    """A valid order but for bytes Python's json module reads differently from pydantic
    (see conftest.MALFORMED): each must be refused like any other bad JSON."""
    api = stack
    prefix = f"raw-{uuid.uuid4().hex[:8]}-"
    stock_before = api.store.availability()
    tally = Tally()

    for index, (name, raw) in enumerate(sorted(MALFORMED.items())):
        order_id = f"{prefix}{index}"
        response = await api.client.post(
            "/orders",
            content=raw.replace(b'"order_id": "A-1"', f'"order_id": "{order_id}"'.encode()),
            headers={"Content-Type": "application/json"},
        )
        # A lone surrogate is valid JSON: the field that holds it is named instead.
        judge(tally, name, response, "address.name" if "surrogate" in name else "body")

    print(tally.line("e2e malformed bodies"))
    try:
        assert_nothing_charged_or_reserved(api, stock_before, prefix)
    except AssertionError as err:
        tally.wrong.append(f"the database: {err}")
    assert tally.server_errors == 0, "\n".join(tally.wrong)
    assert not tally.wrong, "\n".join(tally.wrong)
