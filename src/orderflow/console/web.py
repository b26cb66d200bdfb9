"""What every console page shares: templates (auto-escaped), the session check, CSRF,
flash messages, and the security headers (a Content-Security-Policy with no inline script).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.service import RPCError

from orderflow.api.deps import ApiContext
from orderflow.api.problems import ANSWERS, NotReady
from orderflow.app.errors import OrderRejected
from orderflow.app.orders import OrderService
from orderflow.app.timeline import Timeline
from orderflow.app.views import Views
from orderflow.config import Settings
from orderflow.console.session import COOKIE, Session, Sessions

HERE = Path(__file__).parent
PREFIX = "/console"
FLASH = "orderflow_flash"

#: No inline script or style, nothing from elsewhere, never framed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}

#: Status -> the colour family it is shown in (failed is never green).
TONES = {
    "COMPLETED": "ok",
    "SHIPPED": "ok",
    "FAILED": "bad",
    "CANCELLED": "muted",
    "NEEDS_ATTENTION": "alarm",
    "AWAITING_REVIEW": "wait",
    "COMPENSATING": "warn",
    "CANCELLING": "warn",
}


def money(value: Decimal | None) -> str:
    """``1234.5`` -> ``1,234.50`` (money is Decimal; never a float)."""
    return "—" if value is None else f"{value:,.2f}"


def age(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in the largest unit that fits."""
    if moment is None:
        return "—"
    seconds = max(0, int(((now or datetime.now(timezone.utc)) - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def when(moment: datetime | None) -> str:
    """A moment as the console prints it (UTC)."""
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


TEMPLATES = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
#: A ledger movement's colour: money taken, money given back, a hold placed or released.
MOVEMENTS = {
    "capture": "ok",
    "charge": "ok",
    "refund": "warn",
    "authorize": "muted",
    "void": "muted",
}
TEMPLATES.filters.update(
    money=money,
    age=age,
    when=when,
    tone=lambda s: TONES.get(str(s), ""),
    movement=lambda kind: MOVEMENTS.get(str(kind), ""),
)


@dataclass
class Console:
    """What the console's pages use: the API's context (its order service, through which
    every action goes; its settings; the API keys a login must present) and the sessions."""

    context: ApiContext
    sessions: Sessions

    @property
    def settings(self) -> Settings:
        """The API's settings."""
        return self.context.settings

    @property
    def open(self) -> bool:
        """True when the API runs without keys (local development): no login then."""
        return not self.context.keys.enforced

    @property
    def service(self) -> OrderService:
        """The order service (the one the API uses).

        Raises:
            NotReady: the API has not connected yet.
        """
        service = self.context.service
        if not isinstance(service, OrderService):
            raise NotReady()
        return service

    @property
    def views(self) -> Views:
        """Reads over the service's store."""
        return Views(self.service.store)

    @property
    def timeline(self) -> Timeline:
        """Order timelines from the service's Temporal client."""
        return Timeline(self.service.client)


class ConsoleHeaders:
    """Adds the security headers to every console response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == "/" or path.startswith(PREFIX)):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def session_of(request: Request, console: Console) -> Session | None:
    """The request's session (a fixed one when the console is open)."""
    if console.open:
        return Session(id="open", expires=0)
    return console.sessions.check(request.cookies.get(COOKIE))


def to_login(request: Request) -> RedirectResponse:
    """Send a visitor without a session to the login page, back here after."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{PREFIX}/login?next={quote(target)}", status_code=303)


def render(
    request: Request,
    console: Console,
    template: str,
    session: Session | None,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    """A page: the template with the session's CSRF token, the flash message, the links."""
    flash = request.cookies.get(FLASH, "")
    html = TEMPLATES.get_template(template).render(
        csrf=console.sessions.csrf(session.id) if session else "",
        flash=flash[:300],
        flash_bad=flash.startswith("error:"),
        signed_in=session is not None and not console.open,
        ui_url=console.settings.ui_url,
        path=request.url.path,
        now=datetime.now(timezone.utc),
        **values,
    )
    response = HTMLResponse(html, status_code=status_code)
    if flash:
        response.delete_cookie(FLASH, path=PREFIX)
    return response


def back(where: str, message: str) -> RedirectResponse:
    """After a form: go to ``where`` and show ``message`` once (an ``error:`` one in red)."""
    response = RedirectResponse(where, status_code=303)
    response.set_cookie(
        FLASH, message[:300], max_age=30, path=PREFIX, httponly=True, samesite="strict"
    )
    return response


def forbidden(reason: str) -> Response:
    """A refused state-changing request (no or wrong CSRF token)."""
    return HTMLResponse(
        TEMPLATES.get_template("error.html").render(
            title="Refused", detail=reason, csrf="", flash="", signed_in=False, path=""
        ),
        status_code=403,
    )


class FormRefused(Exception):
    """A form that cannot be read (wrong content type, not UTF-8, too many fields)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


#: No console form has more fields than this.
MAX_FIELDS = 64


async def form_of(request: Request) -> dict[str, str]:
    """The fields of a submitted form (``application/x-www-form-urlencoded``; the last
    value of a repeated field).

    Raises:
        FormRefused: another content type (415), or a body that is not a form (400).
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise FormRefused(415, "a console form is sent as application/x-www-form-urlencoded")
    body = await request.body()
    try:
        text = body.decode("utf-8")
        fields = parse_qs(
            text,
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError):
        raise FormRefused(400, "the form is not UTF-8 text or has too many fields") from None
    return {name: values[-1] for name, values in fields.items()}


def answer_for(err: Exception) -> tuple[int, str]:
    """The status and the words every door uses for an error of the application layer
    (``orderflow.api.problems.ANSWERS``); a bug says little (and is logged by the caller)."""
    if isinstance(err, OrderRejected):
        return 422, str(err)
    if isinstance(err, RPCError):
        return 503, f"Temporal did not accept the call ({err.status.name}); try again shortly"
    for kind, answer in ANSWERS.items():
        if isinstance(err, kind):
            return answer.status, answer.detail or str(err)
    return 500, "an unexpected error occurred; it has been logged"


def idempotency_key() -> str:
    """A fresh key for one form: submitting it twice does the thing once."""
    return secrets.token_urlsafe(16)
