"""The OpenAPI document, with error responses declared as ``application/problem+json``.

``python -m orderflow.api.openapi > docs/openapi.json`` regenerates the committed copy; a
unit test fails when it differs from what the app serves at ``/openapi.json``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from orderflow.api.problems import PROBLEM_JSON

_PROBLEM_REF = "#/components/schemas/Problem"


def problem_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema for ``app``, error bodies moved to their real media type."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                body = content.get("application/json", {})
                if body.get("schema", {}).get("$ref") == _PROBLEM_REF:
                    content[PROBLEM_JSON] = content.pop("application/json")
    app.openapi_schema = schema
    return schema


def openapi_schema() -> dict[str, Any]:
    """The schema of the app as ``create_app`` builds it (settings do not change it)."""
    from orderflow.api.app import create_app
    from orderflow.config import Settings

    return create_app(Settings(), insecure_no_auth=True).openapi()


def render() -> str:
    """The committed text form: indented JSON and a final newline."""
    return json.dumps(openapi_schema(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """Print the OpenAPI document on standard output."""
    print(render(), end="")


if __name__ == "__main__":
    main()
