"""What the console changes (POST): signing in and out, cancel, review, resolve, restock,
set a shelf, reconcile, place an order. Every one goes through the order service, as the
API's and the CLI's do, and is refused the same way; every one needs the session's CSRF
token, and answers with a redirect (so a reload does not repeat it) and a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from orderflow.api.deps import bounded
from orderflow.app.aftersale import ReceiveCreate, RefundCreate, ReturnCreate, parse
from orderflow.app.errors import FieldError, OrderRejected
from orderflow.app.intake import OrderCreate, rejection, text_problem
from orderflow.app.orders import order_id_for_key
from orderflow.app.reconciliation import reconcile_now
from orderflow.console.pages import FORM_LINES, ConsoleDep, order_form
from orderflow.console.session import COOKIE, LOGIN_COOKIE, Session
from orderflow.console.web import (
    PREFIX,
    Console,
    FormRefused,
    answer_for,
    back,
    forbidden,
    form_of,
    render,
    session_of,
)
from orderflow.domain.validation import MAX_TEXT
from orderflow.workflows.messages import ReconcileRequest, Resolution, ResolutionAction
from orderflow.workflows.messages import ReviewDecision as Decision

log = logging.getLogger("orderflow.console")
router = APIRouter()

WHOLE = re.compile(r"\s*[+-]?\d{1,9}\s*")
#: How long a refund's page waits for it to be paid before it says "requested".
SETTLE_S = 5.0


# -- signing in and out ---------------------------------------------------------------------


def _safe_next(target: str) -> str:
    """Where to go after signing in: a console page of this site, nothing else."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or target.startswith("//") or ".." in target:
        return f"{PREFIX}/"
    if parts.path != PREFIX and not parts.path.startswith(f"{PREFIX}/"):
        return f"{PREFIX}/"
    return target


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, console: ConsoleDep, next: str = "") -> Response:
    """The sign-in form (a fresh nonce cookie guards it against cross-site posts)."""
    if session_of(request, console) is not None:
        return RedirectResponse(_safe_next(next or f"{PREFIX}/"), status_code=303)
    return _login_form(request, console, next[:500])


def _login_form(
    request: Request, console: Console, next_page: str, error: str = "", status_code: int = 200
) -> HTMLResponse:
    nonce = console.sessions.new()
    response = render(
        request,
        console,
        "login.html",
        None,
        status_code=status_code,
        login_csrf=console.sessions.csrf(f"login:{nonce}"),
        next_page=next_page,
        error=error,
    )
    response.set_cookie(
        LOGIN_COOKIE, nonce, max_age=1800, path=PREFIX, httponly=True, samesite="strict"
    )
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, console: ConsoleDep) -> Response:
    """Exchange an API key for a session cookie (HttpOnly, SameSite=Strict, 8 hours)."""
    form = await form_of(request)
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    fresh = console.sessions.check(nonce) is not None
    if not fresh or not console.sessions.csrf_ok(f"login:{nonce}", form.get("csrf")):
        return forbidden("the sign-in form expired or was sent from elsewhere: reload it")
    next_page = form.get("next", "")[:500]
    key = form.get("key", "").strip()
    if not key:
        return _login_form(request, console, next_page, "key: is required", 422)
    if not console.context.keys.accepts(key):
        log.warning("console sign-in refused: API key not accepted")
        return _login_form(request, console, next_page, "key: the API key is not accepted", 401)
    response = RedirectResponse(_safe_next(next_page or f"{PREFIX}/"), status_code=303)
    response.set_cookie(
        COOKIE,
        console.sessions.new(),
        max_age=console.sessions.lifetime,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(request: Request, console: ConsoleDep) -> Response:
    """Sign out: the session is refused from now on."""
    checked = await _checked(request, console)
    if isinstance(checked, Response):
        return checked
    session, _ = checked
    console.sessions.end(session.id)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


async def _checked(request: Request, console: Console) -> tuple[Session, dict[str, str]] | Response:
    """The session and the form of a state-changing request, or the refusal to answer:
    the login page without a session, 403 without the session's CSRF token."""
    session = session_of(request, console)
    if session is None:
        return RedirectResponse(f"{PREFIX}/login", status_code=303)
    try:
        form = await form_of(request)
    except FormRefused as err:
        return HTMLResponse(err.args[0], status_code=err.status)
    if not console.sessions.csrf_ok(session.id, form.get("csrf")):
        return forbidden("the form's CSRF token is missing or wrong: reload the page and retry")
    return session, form


# -- acting on an order ---------------------------------------------------------------------


def _text(form: dict[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if len(value) > MAX_TEXT:
        raise OrderRejected.one(name, f"must be at most {MAX_TEXT} characters", "InvalidRequest")
    problem = text_problem(value)
    if problem:
        raise OrderRejected.one(name, problem, "InvalidRequest")
    return value


async def _act(
    request: Request,
    console: Console,
    where: str,
    action: Callable[[dict[str, str]], Awaitable[str]],
) -> Response:
    """Run one action with the form; back to ``where`` with what it did or why it could not."""
    checked = await _checked(request, console)
    if isinstance(checked, Response):
        return checked
    _, form = checked
    try:
        done = await action(form)
    except Exception as err:  # every refusal is shown, in the words every door uses
        status, message = answer_for(err)
        if status >= 500:
            log.warning("console action on %s failed: %s", where, type(err).__name__, exc_info=err)
        return back(where, f"error: {message}")
    return back(where, done)


def _order_page(order_id: str) -> str:
    return f"{PREFIX}/orders/{order_id}"


@router.post("/orders/{order_id}/cancel")
async def cancel(request: Request, order_id: str, console: ConsoleDep) -> Response:
    """Cancel the order (refused once its shipment is booked)."""

    async def act(form: dict[str, str]) -> str:
        reason = _text(form, "reason")
        result = await bounded(console.service.cancel(order_id, reason), console.settings)
        return f"order {order_id} is {result.status.value}"

    return await _act(request, console, _order_page(order_id), act)


@router.post("/orders/{order_id}/review")
async def review(request: Request, order_id: str, console: ConsoleDep) -> Response:
    """Approve or reject an order awaiting review."""

    async def act(form: dict[str, str]) -> str:
        decision = form.get("decision", "")
        if decision not in ("approve", "reject"):
            raise OrderRejected.one("decision", "must be approve or reject", "InvalidRequest")
        choice = Decision(
            approved=decision == "approve",
            reviewer=_text(form, "reviewer"),
            note=_text(form, "note"),
        )
        state = await bounded(console.service.review(order_id, choice), console.settings)
        verb = "approved" if choice.approved else "rejected"
        return f"order {order_id} {verb}; it is {state.status.value}"

    where = form_target(request, _order_page(order_id))
    return await _act(request, console, where, act)


@router.post("/orders/{order_id}/resolve")
async def resolve(request: Request, order_id: str, console: ConsoleDep) -> Response:
    """Settle an order that NEEDS_ATTENTION: retry, or record a fix made by hand."""

    async def act(form: dict[str, str]) -> str:
        try:
            action = ResolutionAction(form.get("action", ""))
        except ValueError:
            choices = ", ".join(a.value for a in ResolutionAction)
            raise OrderRejected.one(
                "action", f"must be one of {choices}", "InvalidRequest"
            ) from None
        operator = _text(form, "operator")
        resolution = Resolution(action=action, operator=operator, note=_text(form, "note"))
        state = await bounded(console.service.resolve(order_id, resolution), console.settings)
        done = action.value.replace("_", " ")
        return f"order {order_id}: {done} recorded; it is {state.status.value}"

    where = form_target(request, _order_page(order_id))
    return await _act(request, console, where, act)


@router.post("/orders/{order_id}/refund")
async def refund(request: Request, order_id: str, console: ConsoleDep) -> Response:
    """Refund a COMPLETED order: everything left, an amount, or one line (the API's rules);
    the form's key makes a double submit one refund."""

    async def act(form: dict[str, str]) -> str:
        data: dict[str, object] = {"reason": form.get("reason", "").strip()}
        if form.get("amount", "").strip():
            data["amount"] = form["amount"].strip()
        if form.get("sku", "").strip():
            data["lines"] = [{"sku": form["sku"].strip(), "quantity": _quantity(form)}]
        if form.get("key"):
            data["refund_id"] = "cf-" + order_id_for_key(form["key"])[2:]
        data["operator"] = _text(form, "operator")
        ask = parse(RefundCreate, data, "refund")
        assert isinstance(ask, RefundCreate)
        sale, new = await bounded(console.service.refund(order_id, ask), console.settings)
        if not sale.settled:
            # Paid out in well under a second unless the gateway is failing: wait a little.
            with contextlib.suppress(asyncio.TimeoutError):
                sale = await asyncio.wait_for(console.service.wait_after_sale(sale), SETTLE_S)
        said = "" if new else " (already requested: nothing more is refunded)"
        return f"refund {sale.return_id} of {sale.amount} is {sale.status.value}{said}"

    return await _act(request, console, _order_page(order_id), act)


@router.post("/orders/{order_id}/return")
async def open_return(request: Request, order_id: str, console: ConsoleDep) -> Response:
    """Open a customer return of one of the order's lines."""

    async def act(form: dict[str, str]) -> str:
        data: dict[str, object] = {
            "reason": form.get("reason", "").strip(),
            "lines": [{"sku": form.get("sku", "").strip(), "quantity": _quantity(form)}],
        }
        if form.get("key"):
            data["return_id"] = "cf-" + order_id_for_key(form["key"])[2:]
        ask = parse(ReturnCreate, data, "return")
        assert isinstance(ask, ReturnCreate)
        sale, _ = await bounded(console.service.open_return(order_id, ask), console.settings)
        return f"return {sale.return_id} opened: waiting for the items"

    return await _act(request, console, _order_page(order_id), act)


@router.post("/orders/{order_id}/returns/{return_id}/receive")
async def receive(request: Request, order_id: str, return_id: str, console: ConsoleDep) -> Response:
    """A return's items arrived: restock and refund them."""

    async def act(form: dict[str, str]) -> str:
        ask = ReceiveCreate(operator=_text(form, "operator"), note=_text(form, "note"))
        sale = await bounded(console.service.receive_return(return_id, ask), console.settings)
        return (
            f"return {sale.return_id}: items back on the shelf; {sale.status.value} {sale.amount}"
        )

    return await _act(request, console, _order_page(order_id), act)


def _quantity(form: dict[str, str]) -> int:
    return _whole(form, "quantity", "must be a whole number (a JSON integer)")


def form_target(request: Request, default: str) -> str:
    """Where a form asked to go back to (``?back=attention``), else ``default``."""
    return f"{PREFIX}/attention" if request.query_params.get("back") == "attention" else default


# -- inventory and reconciliation -----------------------------------------------------------


def _whole(form: dict[str, str], name: str, rule: str) -> int:
    text = form.get(name, "")
    if not WHOLE.fullmatch(text):
        raise OrderRejected.one(name, rule, "InvalidRestock")
    return int(text)


@router.post("/inventory/restock")
async def restock(request: Request, console: ConsoleDep) -> Response:
    """Add units to a shelf, once per form (its idempotency key)."""

    async def act(form: dict[str, str]) -> str:
        units = _whole(form, "units", "must be a whole number from 1 to 1,000,000")
        key = form.get("idempotency_key", "")[:128] or None
        level = await run_in_threadpool(
            console.service.restock, form.get("sku", ""), units, form.get("warehouse", ""), key
        )
        return (
            f"{level.sku} at {level.warehouse}: {level.available} available "
            f"(restocked {units}; a repeat of this form adds nothing)"
        )

    return await _act(request, console, f"{PREFIX}/inventory", act)


@router.post("/inventory/set")
async def set_level(request: Request, console: ConsoleDep) -> Response:
    """Set a shelf's units after a count."""

    async def act(form: dict[str, str]) -> str:
        available = _whole(form, "available", "must be a whole number from 0 to 1,000,000")
        level = await run_in_threadpool(
            console.service.set_stock, form.get("sku", ""), available, form.get("warehouse", "")
        )
        return f"{level.sku} at {level.warehouse}: set to {level.available} available"

    return await _act(request, console, f"{PREFIX}/inventory", act)


@router.post("/reconcile")
async def reconcile(request: Request, console: ConsoleDep) -> Response:
    """One reconciliation pass now, through a worker; back to the queue with its result."""

    async def act(_form: dict[str, str]) -> str:
        service = console.service
        report = await bounded(
            reconcile_now(
                service.client,
                service.task_queue,
                ReconcileRequest(),
                stall_after_s=console.settings.stall_after_s,
            ),
            console.settings,
        )
        return (
            f"reconciled {report.orders_checked} order(s): {len(report.drift)} drift(s), "
            f"{len(report.repaired)} repaired"
        )

    return await _act(request, console, form_target(request, f"{PREFIX}/"), act)


# -- placing an order -----------------------------------------------------------------------

#: Form field -> the order's field it fills (for naming errors as every door does).
ADDRESS = ("name", "line1", "city", "postal_code", "country")


def order_data(form: dict[str, str]) -> tuple[dict[str, object], list[FieldError]]:
    """The order a filled-in form describes, and the quantities that are not numbers."""
    items: list[dict[str, object]] = []
    problems: list[FieldError] = []
    for row in range(FORM_LINES):
        sku = form.get(f"sku_{row}", "").strip()
        quantity = form.get(f"quantity_{row}", "").strip()
        if not sku and not quantity:
            continue
        index = len(items)
        if not WHOLE.fullmatch(quantity):
            problems.append(FieldError(f"items[{index}].quantity", "must be a whole number"))
            items.append({"sku": sku, "quantity": 0})
        else:
            items.append({"sku": sku, "quantity": int(quantity)})
    data: dict[str, object] = {
        "customer_id": form.get("customer_id", "").strip(),
        "items": items,
        "address": {name: form.get(name, "").strip() for name in ADDRESS},
        "payment_token": form.get("payment_token", "").strip(),
        "service_level": form.get("service_level", "standard"),
    }
    if form.get("order_id", "").strip():
        data["order_id"] = form["order_id"].strip()
    return data, problems


def _form_field(field: str, rows: list[int]) -> str:
    """The form's input for an order's field: ``address.city`` -> ``city``,
    ``items[1].sku`` -> ``sku_<row of the second filled line>``."""
    if field.startswith("address."):
        return field.removeprefix("address.")
    match = re.fullmatch(r"items\[(\d+)\]\.(sku|quantity)", field)
    if match and int(match.group(1)) < len(rows):
        return f"{match.group(2)}_{rows[int(match.group(1))]}"
    if field == "items":
        return "sku_0"
    return field


@router.post("/new", response_class=HTMLResponse)
async def place_order(request: Request, console: ConsoleDep) -> Response:
    """Place the order the form describes; refused orders come back naming each field."""
    checked = await _checked(request, console)
    if isinstance(checked, Response):
        return checked
    _, form = checked
    key = form.get("order_key", "")[:64]
    values = {name: value for name, value in form.items() if name != "payment_token"}
    data, problems = order_data(form)
    filled = [
        row
        for row in range(FORM_LINES)
        if form.get(f"sku_{row}", "").strip() or form.get(f"quantity_{row}", "").strip()
    ]
    try:
        try:
            created = OrderCreate.model_validate(data)
        except ValidationError as err:
            raise OrderRejected(problems + rejection(err).errors) from None
        if problems:
            raise OrderRejected(problems)
        order_id = created.order_id or (order_id_for_key(f"console:{key}") if key else "")
        if not order_id:
            raise OrderRejected.one("order_key", "is missing: reload the form", "InvalidRequest")
        submission = await bounded(
            console.service.submit(created.to_order(order_id)), console.settings
        )
    except OrderRejected as err:
        errors: dict[str, str] = {}
        for problem in err.errors:
            errors.setdefault(_form_field(problem.field, filled), problem.rule)
        return await order_form(
            request,
            console,
            values=values,
            errors=errors,
            summary=[str(problem) for problem in err.errors],
            key=key,
            status_code=422,
        )
    except Exception as err:
        status, message = answer_for(err)
        if status >= 500:
            log.warning("console order failed: %s", type(err).__name__, exc_info=err)
        return await order_form(
            request, console, values=values, summary=[message], key=key, status_code=status
        )
    priced = submission.order
    said = "already existed" if not submission.new else "accepted"
    return back(
        _order_page(priced.order_id),
        f"order {priced.order_id} {said}: total {priced.total.total:,.2f}; it is "
        f"{priced.status.value}",
    )
