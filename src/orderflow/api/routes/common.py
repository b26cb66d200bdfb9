"""Error responses shared by the routers, as OpenAPI declares them."""

from __future__ import annotations

from typing import Any

from orderflow.api.problems import Problem

Responses = dict[int | str, dict[str, Any]]


def problems(*statuses: int, overrides: dict[int, str] | None = None) -> Responses:
    """OpenAPI entries for problem responses with these status codes."""
    described = {
        401: "Missing or unaccepted API key",
        404: "No such order",
        409: "Conflicts with the order's state",
        413: "Request body too large",
        422: "Invalid request; `errors` names each field",
        503: "Temporal or the database is unavailable",
        504: "Temporal did not answer in time",
    }
    described.update(overrides or {})
    return {status: {"model": Problem, "description": described[status]} for status in statuses}


#: What every authenticated, Temporal-backed endpoint can answer.
COMMON = problems(401, 413, 422, 503, 504)
