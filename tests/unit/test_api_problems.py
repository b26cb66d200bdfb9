"""Every error is application/problem+json naming the field; never a 500 for client input."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from orderflow.api.problems import field_path
from orderflow.app.errors import ConflictError, OrderRejected
from tests.unit.test_api_support import AUTH, FakeService, an_order_body, client_for, fake_app

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "errors"}


def fields_of(problem: dict[str, Any]) -> list[str]:
    return [error["field"] for error in problem["errors"]]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"items": [{"sku": "TEE-BLACK-M", "quantity": "2"}]}, "items[0].quantity"),
        ({"items": [{"sku": "TEE-BLACK-M", "quantity": 1.5}]}, "items[0].quantity"),
        ({"items": [{"sku": "TEE-BLACK-M", "quantity": True}]}, "items[0].quantity"),
        ({"items": [{"sku": "A", "quantity": 1}, {"quantity": 1}]}, "items[1].sku"),
        ({"items": []}, "items"),
        (
            {"address": {"name": "Ada", "line1": "x", "postal_code": "1", "country": "GB"}},
            "address.city",
        ),
        ({"payment_token": 42}, "payment_token"),
        ({"service_level": "teleport"}, "service_level"),
        ({"order_id": "no spaces allowed"}, "order_id"),
        ({"coupon": "FREE"}, "coupon"),
    ],
)
async def test_a_malformed_order_is_422_naming_the_field_and_reaches_no_service(
    changes: dict[str, Any], field: str
) -> None:
    service = FakeService()
    async with client_for(fake_app(service)) as client:
        response = await client.post("/orders", json=an_order_body(**changes), headers=AUTH)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) == PROBLEM_KEYS
    assert problem["type"] == "urn:orderflow:problem:validation"
    assert problem["instance"] == "/orders"
    assert field in fields_of(problem)
    assert field in problem["detail"]
    assert service.calls == []


async def test_a_problem_never_echoes_the_input_it_refuses() -> None:
    async with client_for(fake_app(FakeService())) as client:
        response = await client.post(
            "/orders", json=an_order_body(payment_token=["tok_visa_secret_123"]), headers=AUTH
        )

    assert response.status_code == 422
    assert "tok_visa_secret_123" not in response.text


@pytest.mark.parametrize(
    ("content", "content_type"),
    [("{not json", "application/json"), ("", "application/json"), ("a=1", "text/plain")],
)
async def test_a_body_that_is_not_a_json_object_is_422_naming_the_body(
    content: str, content_type: str
) -> None:
    async with client_for(fake_app(FakeService())) as client:
        response = await client.post(
            "/orders", content=content, headers={**AUTH, "Content-Type": content_type}
        )

    assert response.status_code == 422
    assert fields_of(response.json()) == ["body"]


async def test_an_order_the_domain_rejects_is_422_with_the_domain_field_and_rule() -> None:
    service = FakeService()
    service.fail["submit"] = OrderRejected.one(
        "items[0].quantity", "must be a positive whole number"
    )
    async with client_for(fake_app(service)) as client:
        response = await client.post("/orders", json=an_order_body(), headers=AUTH)

    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "urn:orderflow:problem:invalid-order"
    assert problem["errors"] == [
        {"field": "items[0].quantity", "message": "must be a positive whole number"}
    ]
    assert problem["detail"] == "items[0].quantity: must be a positive whole number"


async def test_an_unknown_order_is_404() -> None:
    async with client_for(fake_app(FakeService())) as client:
        response = await client.get("/orders/nope-1", headers=AUTH)

    assert response.status_code == 404
    assert response.json()["type"] == "urn:orderflow:problem:order-not-found"
    assert "nope-1" in response.json()["detail"]


async def test_a_conflict_is_409_with_the_service_s_reason() -> None:
    service = FakeService()
    service.fail["cancel"] = ConflictError("order x is COMPLETED and can no longer be cancelled")
    async with client_for(fake_app(service)) as client:
        response = await client.post("/orders/x/cancel", headers=AUTH)

    assert response.status_code == 409
    assert response.json()["detail"] == "order x is COMPLETED and can no longer be cancelled"


async def test_temporal_being_unavailable_is_503_with_retry_after() -> None:
    service = FakeService()
    service.fail["status"] = RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")
    async with client_for(fake_app(service)) as client:
        response = await client.get("/orders/o-1", headers=AUTH)

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["type"] == "urn:orderflow:problem:temporal-unavailable"


async def test_temporal_not_answering_in_time_is_504() -> None:
    service = FakeService()
    service.hang.add("submit")
    async with client_for(fake_app(service, api_timeout_s=0.05)) as client:
        response = await client.post("/orders", json=an_order_body(), headers=AUTH)

    assert response.status_code == 504
    assert "GET the order" in response.json()["detail"]


async def test_an_update_whose_wait_timed_out_in_the_sdk_is_504_too() -> None:
    service = FakeService()
    service.fail["cancel"] = WorkflowUpdateRPCTimeoutOrCancelledError()
    async with client_for(fake_app(service)) as client:
        response = await client.post("/orders/o-1/cancel", headers=AUTH)

    assert response.status_code == 504
    assert response.json()["type"] == "urn:orderflow:problem:timeout"


async def test_an_unknown_status_filter_is_422_naming_status() -> None:
    async with client_for(fake_app(FakeService())) as client:
        response = await client.get("/orders", params={"status": "DONE"}, headers=AUTH)

    assert response.status_code == 422
    assert fields_of(response.json()) == ["status"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"warehouse": "WH-MOON", "units": 5}, "warehouse"),
        ({"units": 0}, "units"),
        ({"units": "5"}, "units"),
        ({}, "units"),
    ],
)
async def test_a_bad_restock_is_422_naming_the_field(body: dict[str, Any], field: str) -> None:
    service = FakeService()
    async with client_for(fake_app(service)) as client:
        response = await client.put("/inventory/TEE-BLACK-M", json=body, headers=AUTH)

    assert response.status_code == 422
    assert fields_of(response.json()) == [field]
    assert "restock" not in service.calls


async def test_routes_and_methods_that_do_not_exist_are_problems_too() -> None:
    async with client_for(fake_app(FakeService())) as client:
        missing = await client.get("/nothing-here", headers=AUTH)
        wrong_method = await client.delete("/orders", headers=AUTH)

    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/problem+json"
    assert "allow" in wrong_method.headers


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("body", "items", 0, "quantity"), "items[0].quantity"),
        (("body", "address", "city"), "address.city"),
        (("query", "status"), "status"),
        (("header", "Idempotency-Key"), "Idempotency-Key"),
        (("body",), "body"),
        (("body", 7), "body"),
    ],
)
def test_validation_locations_become_the_domain_s_field_notation(
    loc: tuple[int | str, ...], path: str
) -> None:
    assert field_path(loc) == path
