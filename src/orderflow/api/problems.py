"""Every error as ``application/problem+json`` (RFC 9457), and the handlers that make it so.

Handlers translate errors into responses and nothing else: the service raises
OrderNotFound, OrderRejected and ConflictError; FastAPI raises RequestValidationError and
HTTPException; Temporal and the database raise their own "unavailable" errors.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError

from orderflow.app.errors import (
    AfterSaleNotFound,
    ConflictError,
    NoWorker,
    OrderFailed,
    OrderNotFound,
    OrderRejected,
    StoreUnavailable,
    TemporalUnavailable,
)
from orderflow.app.intake import field_path, rule_of

log = logging.getLogger("orderflow.api")

PROBLEM_JSON = "application/problem+json"
#: Problem types are URNs: stable identifiers that do not pretend to be web pages.
TYPE_PREFIX = "urn:orderflow:problem:"


class FieldError(BaseModel):
    """One broken rule: which field (``items[0].quantity``) and what is wrong with it."""

    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem detail; ``errors`` lists the fields at fault (validation only)."""

    type: str = Field(default="about:blank", examples=[f"{TYPE_PREFIX}validation"])
    title: str = Field(examples=["Request validation failed"])
    status: int = Field(examples=[422])
    detail: str = Field(default="", examples=["items[0].quantity: must be a positive whole number"])
    instance: str = Field(default="", examples=["/orders"])
    errors: list[FieldError] = Field(default_factory=list)


def problem_response(
    status: int,
    detail: str,
    *,
    kind: str = "",
    title: str = "",
    errors: Sequence[FieldError] = (),
    instance: str = "",
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response; ``kind`` becomes the type URN (empty: ``about:blank``)."""
    body = Problem(
        type=f"{TYPE_PREFIX}{kind}" if kind else "about:blank",
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=instance,
        errors=list(errors),
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_defaults=False),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers) if headers else None,
    )


class UpstreamTimeout(Exception):
    """Temporal did not answer within the API's time budget (``api_timeout_s``)."""


class NotReady(Exception):
    """The service is not connected yet (the app's lifespan has not run, or is starting)."""


def kebab(name: str) -> str:
    """``InvalidOrder`` -> ``invalid-order`` (error types as problem-type slugs)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _validation_errors(exc: RequestValidationError) -> list[FieldError]:
    # The same words as every other door (``intake.rule_of``); deliberately no "input": it
    # would echo payment tokens back (and into logs).
    return [
        FieldError(field=field_path(error.get("loc", ())), message=rule_of(error))
        for error in exc.errors()
    ]


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return problem_response(
        422,
        detail,
        kind="validation",
        title="Request validation failed",
        errors=errors,
        instance=request.url.path,
    )


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(
        exc.__cause__, (UnicodeDecodeError, ValueError, RecursionError)
    ):
        # FastAPI answers 400 for bodies json.loads cannot take (bad UTF-8, absurdly long
        # integers, deep nesting): for the client that is invalid JSON, like any other.
        return problem_response(
            422,
            "body: not a valid JSON document",
            kind="validation",
            title="Request validation failed",
            errors=[FieldError(field="body", message="not a valid JSON document")],
            instance=request.url.path,
        )
    kind = getattr(exc, "problem_kind", "")
    return problem_response(
        exc.status_code,
        str(exc.detail),
        kind=kind,
        instance=request.url.path,
        headers=exc.headers,
    )


async def _on_rejected(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OrderRejected)
    return problem_response(
        422,
        str(exc),
        kind=kebab(exc.error_type or "InvalidOrder"),
        title="The request breaks a rule",
        errors=[FieldError(field=e.field, message=e.rule) for e in exc.errors],
        instance=request.url.path,
    )


@dataclass(frozen=True)
class Answer:
    """How one kind of error is answered: status, problem type, title, and the detail
    (the error's own words unless ``detail`` says otherwise)."""

    status: int
    kind: str
    title: str
    detail: str = ""
    retry_after: str = ""
    #: Worth a warning in the log (the service is degraded, not the client wrong).
    warn: bool = False


TIMEOUT_DETAIL = (
    "Temporal did not answer in time (is a worker running?); the request may still take "
    "effect: GET the order to see its state, or repeat the request (it is idempotent)"
)

ANSWERS: dict[type[Exception], Answer] = {
    ConflictError: Answer(409, "conflict", "Conflict"),
    OrderNotFound: Answer(404, "order-not-found", "Order not found"),
    AfterSaleNotFound: Answer(404, "return-not-found", "Refund or return not found"),
    TemporalUnavailable: Answer(
        503, "temporal-unavailable", "Temporal unavailable", retry_after="5", warn=True
    ),
    NoWorker: Answer(503, "no-worker", "Nothing processes the order", retry_after="10", warn=True),
    OrderFailed: Answer(503, "order-failed", "The order failed before it was priced", warn=True),
    OperationalError: Answer(
        503,
        "database-unavailable",
        "Database unavailable",
        detail="the database did not answer; try again shortly",
        retry_after="5",
        warn=True,
    ),
    UpstreamTimeout: Answer(504, "timeout", "Timed out waiting for Temporal", TIMEOUT_DETAIL, "5"),
    RPCTimeoutOrCancelledError: Answer(
        504, "timeout", "Timed out waiting for Temporal", TIMEOUT_DETAIL, "5"
    ),
    NotReady: Answer(
        503,
        "not-ready",
        "Not ready",
        "the API is starting and not connected to Temporal yet; try again shortly",
        "5",
    ),
}
ANSWERS[StoreUnavailable] = ANSWERS[OperationalError]


def _answering(answer: Answer) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        if answer.warn:
            log.warning("%s for %s: %s", answer.title, request.url.path, type(exc).__name__)
        return problem_response(
            answer.status,
            answer.detail or str(exc),
            kind=answer.kind,
            title=answer.title,
            instance=request.url.path,
            headers={"Retry-After": answer.retry_after} if answer.retry_after else None,
        )

    return handle


async def _on_temporal(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RPCError)
    log.warning("Temporal call for %s failed: %s %s", request.url.path, exc.status.name, exc)
    return problem_response(
        503,
        f"Temporal did not accept the call ({exc.status.name}); try again shortly",
        kind="temporal-unavailable",
        title="Temporal unavailable",
        instance=request.url.path,
        headers={"Retry-After": "5"},
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # A bug on our side, never the client's input: log it, say little.
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        500,
        "an unexpected error occurred; it has been logged",
        kind="internal",
        instance=request.url.path,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error the app can raise answer as problem+json."""
    handlers: dict[type[Exception], Any] = {
        RequestValidationError: _on_validation,
        StarletteHTTPException: _on_http,
        OrderRejected: _on_rejected,
        RPCError: _on_temporal,
        **{kind: _answering(answer) for kind, answer in ANSWERS.items()},
        Exception: _on_unexpected,
    }
    for exc_type, handler in handlers.items():
        app.add_exception_handler(exc_type, handler)
