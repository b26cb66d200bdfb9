"""The operator console: web pages for the people who run the shop, served by the API
process under ``/console`` (``/`` leads there).

Server-rendered HTML (Jinja, auto-escaped), one small script of our own for the live
regions, one style sheet; nothing from elsewhere. Every action goes through the same
``OrderService`` as the API and the CLI. Signing in exchanges an API key for a session
cookie; every form carries a CSRF token.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError

from orderflow.api.deps import ApiContext
from orderflow.api.problems import ANSWERS
from orderflow.app.errors import OrderRejected
from orderflow.app.intake import field_path, rule_of
from orderflow.console import actions, pages
from orderflow.console.session import Sessions
from orderflow.console.web import (
    HERE,
    PREFIX,
    Console,
    ConsoleHeaders,
    answer_for,
    render,
    session_of,
)

log = logging.getLogger("orderflow.console")

__all__ = ["install_console"]


def _error_page(request: Request, status: int, title: str, detail: str) -> Response:
    if request.query_params.get("part") == "live":
        return Response(detail, status_code=status, media_type="text/plain")
    console = request.app.state.console
    assert isinstance(console, Console)
    return render(
        request,
        console,
        "error.html",
        session_of(request, console),
        status_code=status,
        title=title,
        detail=detail,
    )


def _install_errors(app: FastAPI) -> None:
    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        detail = "; ".join(
            f"{field_path(error.get('loc', ()))}: {rule_of(error)}" for error in exc.errors()
        )
        return _error_page(request, 422, "That page does not exist in that form", detail)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        title = "Not found" if exc.status_code == 404 else "Refused"
        return _error_page(request, exc.status_code, title, str(exc.detail))

    async def on_error(request: Request, exc: Exception) -> Response:
        status, detail = answer_for(exc)
        if status >= 500:
            log.warning("console page %s: %s", request.url.path, type(exc).__name__, exc_info=exc)
        title = {404: "Not found", 409: "Conflict", 422: "Refused"}.get(status, "Unavailable")
        return _error_page(request, status, title, detail)

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    # The errors every door translates (a generic ``Exception`` handler would answer and
    # then re-raise; a bug is left to the API's own handler: logged, a terse 500).
    for kind in (OrderRejected, RPCError, *ANSWERS):
        app.add_exception_handler(kind, on_error)


def install_console(app: FastAPI, context: ApiContext) -> None:
    """Serve the console from ``app`` under ``/console`` (and send ``/`` there)."""
    console = Console(context=context, sessions=Sessions(context.keys.secret("console")))
    web = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    web.state.console = console
    web.include_router(pages.router)
    web.include_router(actions.router)
    web.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _install_errors(web)
    app.mount(PREFIX, web)
    app.add_middleware(ConsoleHeaders)

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=307)
