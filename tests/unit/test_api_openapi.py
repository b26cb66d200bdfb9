"""The committed OpenAPI document is the one the app serves, and it says problem+json."""

from __future__ import annotations

import json
from pathlib import Path

from orderflow.api.openapi import openapi_schema
from tests.unit.test_api_support import FakeService, client_for, fake_app

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
REGENERATE = "python -m orderflow.api.openapi > docs/openapi.json"


def test_the_committed_openapi_document_matches_the_app() -> None:
    committed = json.loads(COMMITTED.read_text())

    assert committed == openapi_schema(), f"docs/openapi.json is stale: run `{REGENERATE}`"


async def test_the_app_serves_the_same_document() -> None:
    async with client_for(fake_app(FakeService())) as client:
        served = (await client.get("/openapi.json")).json()

    assert served == openapi_schema()


def test_every_error_response_is_documented_as_problem_json() -> None:
    schema = openapi_schema()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) < 400 or path == "/healthz":
                    continue
                assert list(response["content"]) == ["application/problem+json"], (
                    f"{method.upper()} {path} {status}"
                )
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_every_endpoint_but_health_requires_the_api_key() -> None:
    schema = openapi_schema()
    for path, item in schema["paths"].items():
        for operation in item.values():
            expected = [] if path == "/healthz" else [{"ApiKey": []}]
            assert operation.get("security", []) == expected, path
