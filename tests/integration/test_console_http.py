"""The console's door over HTTP, as a hostile client would knock: no session, forged or
missing CSRF, bad query strings, odd bodies, open redirects. A real order service over a
real store and the session's Temporal server; no browser needed for these."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from orderflow.api import create_app
from orderflow.app.orders import OrderService
from orderflow.bootstrap import build_store
from orderflow.config import Settings
from orderflow.store.tables import orders

KEY = "console-http-key-0123456789abcdef"
PAGES = (
    "/console/",
    "/console/orders",
    "/console/attention",
    "/console/inventory",
    "/console/payments",
    "/console/new",
)


@pytest.fixture
async def http(
    temporal_env: WorkflowEnvironment, data_dir: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        data_dir=data_dir, api_keys=SecretStr(KEY), task_queue=f"c-{uuid.uuid4().hex[:6]}"
    )
    store = build_store(settings)
    app = create_app(settings, OrderService(temporal_env.client, store, settings.task_queue))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://console"
    ) as client:
        yield client
    store.engine.dispose()


def csrf_in(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


async def signed_in(http: httpx.AsyncClient, next_page: str = "") -> httpx.Response:
    form = await http.get("/console/login", params={"next": next_page} if next_page else None)
    return await http.post(
        "/console/login", data={"key": KEY, "csrf": csrf_in(form.text), "next": next_page}
    )


async def test_without_a_session_pages_lead_to_login_and_live_regions_answer_401(
    http: httpx.AsyncClient,
) -> None:
    for page in PAGES:
        answer = await http.get(page)
        assert answer.status_code == 303 and answer.headers["location"].startswith(
            "/console/login?next="
        ), page
        live = await http.get(page, params={"part": "live"})
        assert live.status_code == 401, page
    posted = await http.post("/console/inventory/restock", data={"units": "5"})
    assert posted.status_code == 303 and "/console/login" in posted.headers["location"]


async def test_the_login_form_needs_its_nonce_and_the_next_page_stays_on_this_site(
    http: httpx.AsyncClient,
) -> None:
    no_nonce = await httpx.AsyncClient(
        transport=http._transport,
        base_url="http://console",  # a client without cookies
    ).post("/console/login", data={"key": KEY, "csrf": "x"})
    assert no_nonce.status_code == 403
    for target in ("https://evil.example/", "//evil.example/x", "/console/../admin", "/elsewhere"):
        http.cookies.clear()
        answer = await signed_in(http, target)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/", target
    http.cookies.clear()
    answer = await signed_in(http, "/console/payments?page=2")
    assert answer.headers["location"] == "/console/payments?page=2"


async def test_bad_query_strings_name_the_parameter_and_never_crash(
    http: httpx.AsyncClient,
) -> None:
    await signed_in(http)
    for path, named in (
        ("/console/orders?page=abc", "page"),
        ("/console/orders?page=0", "page"),
        ("/console/orders?state=BOGUS", "state"),
        ("/console/payments?page=-1", "page"),
        ("/console/orders?q=" + "x" * 500, "q"),
    ):
        answer = await http.get(path)
        assert answer.status_code == 422, (path, answer.status_code)
        assert named in answer.text and "Traceback" not in answer.text
    missing = await http.get("/console/orders/%3Cscript%3Ealert(1)")
    assert missing.status_code == 404
    assert "<script>alert(1)" not in missing.text and "&lt;script&gt;" in missing.text
    search = await http.get("/console/orders", params={"q": "<b>x</b>'\""})
    assert search.status_code == 200 and "<b>x</b>" not in search.text


async def test_forms_refuse_forged_tokens_odd_bodies_and_control_characters(
    http: httpx.AsyncClient, data_dir: Path
) -> None:
    await signed_in(http)
    page = await http.get("/console/new")
    csrf = csrf_in(page.text)
    forged = await http.post("/console/new", data={"csrf": "forged", "sku_0": "MUG-LOGO"})
    assert forged.status_code == 403
    multipart = await http.post("/console/new", files={"csrf": (None, csrf)})
    assert multipart.status_code == 415
    not_utf8 = await http.post(
        "/console/new",
        content=b"csrf=" + csrf.encode() + b"&name=%ff%fe",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert not_utf8.status_code == 400
    order = {
        "csrf": csrf,
        "order_key": uuid.uuid4().hex,
        "customer_id": "nul\x00here",
        "sku_0": "MUG-LOGO",
        "quantity_0": "1",
        "name": "Ada",
        "line1": "1 Way",
        "city": "London",
        "postal_code": "N1",
        "country": "GB",
        "payment_token": "tok_visa",
    }
    refused = await http.post("/console/new", data=order)
    assert refused.status_code == 422
    assert "customer_id: must not contain control characters" in refused.text
    assert "tok_visa" not in refused.text.replace("tok_visa is accepted", "")
    with build_store(Settings(data_dir=data_dir)).engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(orders)) == 0
    units = await http.post(
        "/console/inventory/restock",
        data={"csrf": csrf, "sku": "MUG-LOGO", "warehouse": "WH-EAST", "units": "1e3"},
    )
    assert units.status_code == 303
    shown = await http.get(units.headers["location"])
    assert "units: must be a whole number" in shown.text


async def test_every_console_answer_carries_the_security_headers(
    http: httpx.AsyncClient,
) -> None:
    for answer in (await http.get("/"), await http.get("/console/login")):
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
    api = await http.get("/healthz")
    assert "content-security-policy" not in api.headers  # the API answers JSON, as before
