"""API-key authentication: bearer keys from settings, 401 problems, constant-time checks."""

from __future__ import annotations

import logging

import pytest

from orderflow.api import auth, create_app
from orderflow.api.auth import ApiConfigError, ApiKeys
from orderflow.config import Settings
from tests.unit.test_api_support import (
    AUTH,
    KEY,
    OTHER_KEY,
    FakeService,
    an_order_body,
    client_for,
    fake_app,
)


async def test_a_request_without_a_key_is_401_with_a_bearer_challenge() -> None:
    service = FakeService()
    async with client_for(fake_app(service)) as client:
        response = await client.post("/orders", json=an_order_body())

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "invalid_token" not in response.headers["www-authenticate"]
    assert response.json()["title"] == "Unauthorized"
    assert service.calls == []  # nothing reached the service


async def test_a_wrong_key_is_401_invalid_token_and_reaches_nothing() -> None:
    service = FakeService()
    async with client_for(fake_app(service)) as client:
        response = await client.get(
            "/inventory", headers={"Authorization": "Bearer not-the-key-0123456789"}
        )

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json()["detail"] == "the API key is not accepted"
    assert service.calls == []


@pytest.mark.parametrize("header", [f"Basic {KEY}", "Bearer", "Bearer    ", KEY])
async def test_a_header_that_is_not_bearer_key_is_401(header: str) -> None:
    async with client_for(fake_app(FakeService())) as client:
        response = await client.get("/inventory", headers={"Authorization": header})

    assert response.status_code == 401
    assert "Bearer <key>" in response.json()["detail"]


async def test_every_configured_key_is_accepted_and_the_scheme_is_case_insensitive() -> None:
    async with client_for(fake_app(FakeService())) as client:
        first = await client.get("/inventory", headers=AUTH)
        second = await client.get("/inventory", headers={"Authorization": f"bearer {OTHER_KEY}"})

    assert first.status_code == 200
    assert second.status_code == 200


async def test_health_and_the_openapi_document_need_no_key() -> None:
    async with client_for(fake_app(FakeService())) as client:
        health = await client.get("/healthz")
        schema = await client.get("/openapi.json")

    assert health.status_code == 200
    assert schema.status_code == 200


def test_the_app_refuses_to_start_without_keys() -> None:
    with pytest.raises(ApiConfigError, match="ORDERFLOW_API_KEYS"):
        create_app(Settings(api_keys=""), FakeService())  # type: ignore[arg-type]


def test_keys_shorter_than_sixteen_characters_are_refused() -> None:
    with pytest.raises(ApiConfigError, match="key #2 is shorter than 16"):
        create_app(Settings(api_keys=f"{KEY}, short"), FakeService())  # type: ignore[arg-type]


async def test_insecure_no_auth_lets_requests_in_without_a_key() -> None:
    app = create_app(Settings(api_keys=""), FakeService(), insecure_no_auth=True)  # type: ignore[arg-type]
    async with client_for(app) as client:
        response = await client.get("/inventory")

    assert response.status_code == 200


def test_keys_are_read_comma_separated_from_the_environment_and_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORDERFLOW_API_KEYS", f" {KEY} ,, {OTHER_KEY} ")
    settings = Settings()

    assert auth.parse_api_keys(settings.api_keys.get_secret_value()) == [KEY, OTHER_KEY]
    assert KEY not in repr(settings)
    assert KEY not in str(settings.model_dump())


def test_a_key_is_compared_with_every_configured_key_even_after_a_match(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compared: list[int] = []
    real = auth.hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append(1)
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    keys = ApiKeys([KEY, OTHER_KEY, "third-key-0123456789abc"])

    assert keys.accepts(KEY)
    assert len(compared) == 3
    assert not keys.accepts("x")
    assert len(compared) == 6


async def test_neither_the_presented_key_nor_the_payment_token_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "wrong-key-that-must-not-leak-42"
    caplog.set_level(logging.DEBUG)
    async with client_for(fake_app(FakeService())) as client:
        await client.post(
            "/orders", json=an_order_body(), headers={"Authorization": f"Bearer {wrong}"}
        )
        await client.post(
            "/orders", json=an_order_body(items=[{"sku": "X", "quantity": "1"}]), headers=AUTH
        )

    assert "not accepted" in caplog.text  # the refusal is logged ...
    assert wrong not in caplog.text  # ... without the key
    assert KEY not in caplog.text
    assert "tok_visa_secret_123" not in caplog.text
