"""Routes over a fake service: ids, idempotent submission, status codes, money as strings."""

from __future__ import annotations

import pytest

from orderflow.app.orders import order_id_for_key
from orderflow.domain.status import OrderStatus
from tests.unit.test_api_support import AUTH, FakeService, an_order_body, client_for, fake_app


async def test_a_new_order_is_201_with_location_and_money_as_decimal_strings() -> None:
    service = FakeService()
    async with client_for(fake_app(service)) as client:
        response = await client.post("/orders", json=an_order_body(order_id="ord-1"), headers=AUTH)

    assert response.status_code == 201
    assert response.headers["location"] == "/orders/ord-1"
    body = response.json()
    assert body["order_id"] == "ord-1"
    assert body["total"] == {
        "subtotal": "51.98",
        "shipping_fee": "5.00",
        "tax": "4.16",
        "total": "61.14",
    }
    assert body["lines"][0] == {
        "sku": "TEE-BLACK-M",
        "quantity": 2,
        "unit_price": "19.99",
        "amount": "39.98",
    }
    assert "payment_token" not in response.text


async def test_the_idempotency_key_names_the_order_and_a_repeat_is_200_with_the_same_body() -> None:
    service = FakeService()
    headers = {**AUTH, "Idempotency-Key": "client-key-1"}
    async with client_for(fake_app(service)) as client:
        first = await client.post("/orders", json=an_order_body(), headers=headers)
        again = await client.post("/orders", json=an_order_body(), headers=headers)

    assert first.status_code == 201
    assert again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["order_id"] == order_id_for_key("client-key-1")
    assert list(service.orders) == [order_id_for_key("client-key-1")]


async def test_the_same_idempotency_key_with_a_different_body_is_409() -> None:
    headers = {**AUTH, "Idempotency-Key": "client-key-2"}
    async with client_for(fake_app(FakeService())) as client:
        await client.post("/orders", json=an_order_body(), headers=headers)
        changed = await client.post(
            "/orders", json=an_order_body(payment_token="tok_other"), headers=headers
        )

    assert changed.status_code == 409
    assert "already used by a different order" in changed.json()["detail"]


async def test_an_order_id_in_the_body_wins_over_the_key_and_without_either_one_is_made() -> None:
    service = FakeService()
    async with client_for(fake_app(service)) as client:
        named = await client.post(
            "/orders",
            json=an_order_body(order_id="mine-1"),
            headers={**AUTH, "Idempotency-Key": "k"},
        )
        anonymous = await client.post("/orders", json=an_order_body(), headers=AUTH)

    assert named.json()["order_id"] == "mine-1"
    assert anonymous.status_code == 201
    assert anonymous.json()["order_id"].startswith("o-")


async def test_get_shows_the_order_s_state() -> None:
    async with client_for(fake_app(FakeService())) as client:
        await client.post("/orders", json=an_order_body(order_id="ord-2"), headers=AUTH)
        response = await client.get("/orders/ord-2", headers=AUTH)

    assert response.status_code == 200
    body = response.json()
    assert (body["order_id"], body["status"], body["step"]) == ("ord-2", "VALIDATED", "payment")
    assert body["total"]["total"] == "61.14"


@pytest.mark.parametrize("body", [None, {"reason": "changed my mind"}])
async def test_cancel_answers_with_the_final_state_with_or_without_a_reason(
    body: dict[str, str] | None,
) -> None:
    async with client_for(fake_app(FakeService())) as client:
        await client.post("/orders", json=an_order_body(order_id="ord-3"), headers=AUTH)
        response = await client.post("/orders/ord-3/cancel", json=body, headers=AUTH)

    assert response.status_code == 200
    result = response.json()
    assert result["status"] == "CANCELLED"
    assert result["reason"] == (body["reason"] if body else "cancelled on request")
    assert result["compensations"][0]["action"] == "refund_payment"


async def test_approving_an_order_not_awaiting_review_is_409_and_one_awaiting_is_200() -> None:
    service = FakeService()
    async with client_for(fake_app(service)) as client:
        await client.post("/orders", json=an_order_body(order_id="ord-4"), headers=AUTH)
        refused = await client.post(
            "/orders/ord-4/approve", json={"approved": True, "reviewer": "sam"}, headers=AUTH
        )
        service.status_of["ord-4"] = OrderStatus.AWAITING_REVIEW
        accepted = await client.post(
            "/orders/ord-4/approve", json={"approved": True, "reviewer": "sam"}, headers=AUTH
        )
        not_a_bool = await client.post(
            "/orders/ord-4/approve", json={"approved": "yes"}, headers=AUTH
        )

    assert refused.status_code == 409
    assert "not awaiting review" in refused.json()["detail"]
    assert accepted.status_code == 200
    assert not_a_bool.status_code == 422
    assert not_a_bool.json()["errors"][0]["field"] == "approved"


async def test_orders_are_listed_by_status() -> None:
    service = FakeService()
    async with client_for(fake_app(service)) as client:
        for order_id in ("a-1", "a-2"):
            await client.post("/orders", json=an_order_body(order_id=order_id), headers=AUTH)
        service.status_of["a-2"] = OrderStatus.COMPLETED
        listed = await client.get("/orders", params={"status": "COMPLETED"}, headers=AUTH)
        too_many = await client.get("/orders", params={"limit": 5000}, headers=AUTH)

    assert [o["order_id"] for o in listed.json()] == ["a-2"]
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "limit"


async def test_restock_adds_units_and_inventory_lists_them() -> None:
    async with client_for(fake_app(FakeService())) as client:
        restocked = await client.put(
            "/inventory/TEE-BLACK-M", json={"warehouse": "WH-WEST", "units": 5}, headers=AUTH
        )
        listed = await client.get("/inventory", headers=AUTH)
        unknown = await client.put("/inventory/NOPE", json={"units": 5}, headers=AUTH)

    level = {"warehouse": "WH-WEST", "sku": "TEE-BLACK-M", "available": 15, "held": 0, "shipped": 0}
    assert restocked.status_code == 200
    assert restocked.json() == level
    assert level in listed.json()
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "sku"


async def test_health_is_503_when_temporal_does_not_answer() -> None:
    async def temporal_down() -> dict[str, bool]:
        return {"temporal": False, "database": True}

    from orderflow.api import create_app
    from orderflow.config import Settings
    from tests.unit.test_api_support import KEY

    app = create_app(Settings(api_keys=KEY), FakeService(), health_check=temporal_down)  # type: ignore[arg-type]
    async with client_for(app) as client:
        response = await client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "temporal": False, "database": True}
