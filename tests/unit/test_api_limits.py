"""Oversize bodies are refused with a 413 problem before anything parses them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from tests.unit.test_api_support import AUTH, FakeService, an_order_body, client_for, fake_app

LIMIT = 1024


def padded_body(size: int) -> bytes:
    """A valid order body of exactly ``size`` bytes (JSON padded with trailing spaces)."""
    body = json.dumps(an_order_body()).encode()
    return body + b" " * (size - len(body))


async def test_a_declared_content_length_over_the_limit_is_413_and_never_read() -> None:
    service = FakeService()
    async with client_for(fake_app(service, max_body_bytes=LIMIT)) as client:
        response = await client.post(
            "/orders",
            content=padded_body(LIMIT + 1),
            headers={**AUTH, "Content-Type": "application/json"},
        )

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:orderflow:problem:body-too-large"
    assert str(LIMIT) in problem["detail"]
    assert service.calls == []


async def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit() -> None:
    service = FakeService()
    chunks_sent = 0

    async def stream() -> AsyncIterator[bytes]:
        nonlocal chunks_sent
        for _ in range(100):
            chunks_sent += 1
            yield b" " * 256

    async with client_for(fake_app(service, max_body_bytes=LIMIT)) as client:
        response = await client.post(
            "/orders", content=stream(), headers={**AUTH, "Content-Type": "application/json"}
        )

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["type"] == "urn:orderflow:problem:body-too-large"
    assert service.calls == []


async def test_a_body_of_exactly_the_limit_is_accepted() -> None:
    service = FakeService()
    async with client_for(fake_app(service, max_body_bytes=LIMIT)) as client:
        response = await client.post(
            "/orders",
            content=padded_body(LIMIT),
            headers={**AUTH, "Content-Type": "application/json"},
        )

    assert response.status_code == 201
    assert service.calls == ["submit"]  # one call: the answer says new or repeat
