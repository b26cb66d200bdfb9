"""End to end: real HTTP to a real uvicorn server, a real worker and a real Temporal server."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from orderflow.api import create_app
from orderflow.app.orders import OrderService, order_id_for_key
from orderflow.bootstrap import build_store
from orderflow.config import Settings
from orderflow.domain.catalog import CATALOG
from orderflow.domain.models import ShippingQuote
from orderflow.store import Store
from orderflow.temporal.client import connect
from orderflow.workflows.messages import QuoteRequest
from tests.workflow.conftest import FAST, STOCK, make_activities, worker_for
from tests.workflow.helpers import ledger, shipment_status

KEY = "e2e-api-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
DEADLINE_S = 20.0
POLL_S = 0.05


@dataclass
class Api:
    """A running stack: the base URL, an authenticated client, and the store behind it."""

    url: str
    client: httpx.AsyncClient
    store: Store


async def eventually(
    probe: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], what: str
) -> Any:
    """Poll ``probe`` until ``done`` holds for its answer, for at most DEADLINE_S."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        answer = await probe()
        if done(answer):
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last answer: {answer!r}")
        await asyncio.sleep(POLL_S)


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port; yield its URL once it is healthy."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))

    async def serve() -> None:
        try:
            await server.serve(sockets=[sock])
        except SystemExit as stop:  # uvicorn's answer to a failed start-up
            raise RuntimeError(f"the API did not start (exit status {stop.code})") from None

    task = asyncio.create_task(serve())
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5) as probe:

            async def health() -> int:
                if task.done():
                    task.result()  # surface a start-up failure instead of waiting it out
                try:
                    return (await probe.get("/healthz")).status_code
                except httpx.TransportError:
                    return 0

            await eventually(health, lambda status: status == 200, "the API to be healthy")
        yield url
    finally:
        server.should_exit = True
        await task
        sock.close()


@asynccontextmanager
async def api_stack(
    env: WorkflowEnvironment, data_dir: Path, replace: Sequence[Callable[..., Any]] = ()
) -> AsyncIterator[Api]:
    """Store, worker (no faults, fast retries), OrderService, app, uvicorn, client."""
    task_queue = f"api-{uuid.uuid4().hex[:10]}"
    store = build_store(Settings(data_dir=data_dir))
    for product in CATALOG:
        store.restock(product.sku, STOCK)
    service = OrderService(env.client, store, task_queue, FAST)
    app = create_app(Settings(api_keys=KEY, data_dir=data_dir, task_queue=task_queue), service)
    async with (
        worker_for(env.client, task_queue, make_activities(store), replace=replace),
        serving(app) as url,
        httpx.AsyncClient(base_url=url, headers=AUTH, timeout=30) as client,
    ):
        yield Api(url=url, client=client, store=store)
    store.engine.dispose()


@pytest.fixture
async def api(temporal_env: WorkflowEnvironment, data_dir: Path) -> AsyncIterator[Api]:
    """The full stack for one test."""
    async with api_stack(temporal_env, data_dir) as running:
        yield running


def an_order(**changes: Any) -> dict[str, Any]:
    """A valid order body: 2 x TEE-BLACK-M and 1 x MUG-LOGO to London."""
    body: dict[str, Any] = {
        "customer_id": "cust-001",
        "items": [{"sku": "TEE-BLACK-M", "quantity": 2}, {"sku": "MUG-LOGO", "quantity": 1}],
        "address": {
            "name": "Ada Lovelace",
            "line1": "12 Analytical Way",
            "city": "London",
            "postal_code": "N1 9GU",
            "country": "GB",
        },
        "payment_token": "tok_visa",
    }
    return {**body, **changes}


async def finished(api: Api, location: str, status: str = "COMPLETED") -> dict[str, Any]:
    """The order at ``location`` once it reached ``status`` (polled with a deadline)."""

    async def look() -> dict[str, Any]:
        response = await api.client.get(location)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    return await eventually(look, lambda order: order["status"] == status, f"{location} {status}")  # type: ignore[no-any-return]


def charges(store: Store, order_id: str) -> list[Decimal]:
    """What was taken from the card: captures (and old-style charges)."""
    return [amount for kind, amount in ledger(store, order_id) if kind in ("capture", "charge")]


async def test_an_order_submitted_with_a_key_is_priced_at_once_and_completes(api: Api) -> None:
    order_id = f"e2e-{uuid.uuid4().hex[:8]}"
    response = await api.client.post("/orders", json=an_order(order_id=order_id))

    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/orders/{order_id}"
    priced = response.json()
    assert priced["total"]["subtotal"] == "51.98"
    order = await finished(api, response.headers["location"])
    assert order["total"] == priced["total"]
    assert [s["status"] for s in order["shipments"]] == ["booked"]
    assert order["shipments"][0]["tracking_number"]
    assert charges(api.store, order_id) == [Decimal(priced["total"]["total"])]

    async def completed_ids() -> list[str]:
        listed = await api.client.get("/orders", params={"status": "COMPLETED"})
        return [o["order_id"] for o in listed.json()]

    # The listing comes from Temporal's visibility store: eventually consistent.
    await eventually(completed_ids, lambda ids: order_id in ids, "the order to be listed")


async def test_the_same_idempotency_key_twice_is_one_order_and_one_charge(api: Api) -> None:
    headers = {"Idempotency-Key": f"key-{uuid.uuid4()}"}
    first = await api.client.post("/orders", json=an_order(), headers=headers)
    second = await api.client.post("/orders", json=an_order(), headers=headers)
    order = await finished(api, first.headers["location"])
    after = await api.client.post("/orders", json=an_order(), headers=headers)
    changed = await api.client.post(
        "/orders", json=an_order(payment_token="tok_mc"), headers=headers
    )

    assert (first.status_code, second.status_code, after.status_code) == (201, 200, 200)
    order_id = order_id_for_key(headers["Idempotency-Key"])
    assert first.json()["order_id"] == second.json()["order_id"] == order_id
    for field in ("order_id", "total", "lines", "needs_review"):  # only status moves on
        assert first.json()[field] == second.json()[field], field
    # After completion OrderService._priced_from_closed answers without the priced lines
    # (lines=[]), so only the id and total are compared for the late repeat.
    assert (after.json()["order_id"], after.json()["total"]) == (order_id, first.json()["total"])
    assert order["status"] == "COMPLETED"
    assert changed.status_code == 409
    assert changed.headers["content-type"] == "application/problem+json"
    assert len(charges(api.store, order_id)) == 1


async def test_an_invalid_order_is_422_naming_the_field_and_nothing_is_charged(api: Api) -> None:
    order_id = f"bad-{uuid.uuid4().hex[:8]}"
    by_rule = await api.client.post(
        "/orders", json=an_order(order_id=order_id, items=[{"sku": "MUG-LOGO", "quantity": 0}])
    )
    repeat = await api.client.post(
        "/orders", json=an_order(order_id=order_id, items=[{"sku": "MUG-LOGO", "quantity": 0}])
    )
    by_type = await api.client.post(
        "/orders", json=an_order(items=[{"sku": "MUG-LOGO", "quantity": "one"}])
    )

    assert by_rule.status_code == 422
    assert by_rule.headers["content-type"] == "application/problem+json"
    assert by_rule.json()["errors"] == [
        {"field": "items[0].quantity", "message": "must be a positive whole number"}
    ]
    assert by_type.status_code == 422
    assert by_type.json()["errors"][0]["field"] == "items[0].quantity"
    assert repeat.status_code == 422  # the failed order answers the same way again
    assert repeat.json()["errors"] == by_rule.json()["errors"]
    assert ledger(api.store, order_id) == []


async def test_a_wrong_key_is_401_and_starts_nothing(api: Api) -> None:
    key = f"key-{uuid.uuid4()}"
    async with httpx.AsyncClient(base_url=api.url) as stranger:
        refused = await stranger.post(
            "/orders",
            json=an_order(),
            headers={"Authorization": "Bearer wrong-key-0123456789", "Idempotency-Key": key},
        )
        anonymous = await stranger.get("/inventory")

    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert anonymous.status_code == 401
    lookup = await api.client.get(f"/orders/{order_id_for_key(key)}")
    assert lookup.status_code == 404


async def test_cancelling_a_completed_order_is_409_saying_why(api: Api) -> None:
    order_id = f"done-{uuid.uuid4().hex[:8]}"
    created = await api.client.post("/orders", json=an_order(order_id=order_id))
    await finished(api, created.headers["location"])

    response = await api.client.post(f"/orders/{order_id}/cancel", json={"reason": "too late"})

    assert response.status_code == 409
    assert "COMPLETED" in response.json()["detail"]
    assert "can no longer be cancelled" in response.json()["detail"]
    assert shipment_status(api.store, order_id) == "booked"
    assert [kind for kind, _ in ledger(api.store, order_id)] == ["authorize", "capture"]


async def test_a_restock_shows_in_the_inventory(api: Api) -> None:
    before = api.store.availability()["WH-WEST"]["CAP-NAVY"]

    restocked = await api.client.put(
        "/inventory/CAP-NAVY", json={"warehouse": "WH-WEST", "units": 5}
    )
    listed = await api.client.get("/inventory")
    unknown = await api.client.put("/inventory/NO-SUCH-SKU", json={"units": 5})

    expected = {"warehouse": "WH-WEST", "sku": "CAP-NAVY", "available": before + 5}
    assert restocked.status_code == 200
    assert restocked.json() | expected == restocked.json()
    assert any(level | expected == level for level in listed.json())
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "sku"


async def test_a_restock_retried_with_its_idempotency_key_adds_its_units_once(api: Api) -> None:
    before = api.store.availability()["WH-WEST"]["MUG-LOGO"]
    key = {"Idempotency-Key": f"restock-{uuid.uuid4().hex[:8]}"}
    body = {"warehouse": "WH-WEST", "units": 7}

    first = await api.client.put("/inventory/MUG-LOGO", json=body, headers=key)
    retried = await api.client.put("/inventory/MUG-LOGO", json=body, headers=key)
    other = await api.client.put("/inventory/MUG-LOGO", json={**body, "units": 8}, headers=key)

    assert first.status_code == retried.status_code == 200
    assert first.json()["available"] == retried.json()["available"] == before + 7
    assert api.store.availability()["WH-WEST"]["MUG-LOGO"] == before + 7
    assert other.status_code == 409  # the key names another restock


async def test_health_answers_without_a_key_and_oversize_bodies_are_413(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url) as anonymous:
        health = await anonymous.get("/healthz")
    oversize = await api.client.post(
        "/orders",
        content=b"{" + b" " * (64 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
    )

    assert health.json() == {"status": "ok", "temporal": True, "database": True}
    assert oversize.status_code == 413
    assert oversize.headers["content-type"] == "application/problem+json"


async def test_run_for_real_the_app_connects_to_temporal_and_the_database_itself(
    temporal_env: WorkflowEnvironment, data_dir: Path
) -> None:
    task_queue = f"api-{uuid.uuid4().hex[:10]}"
    target = temporal_env.client.service_client.config.target_host
    settings = Settings(
        api_keys=KEY, temporal_address=target, data_dir=data_dir, task_queue=task_queue
    )
    worker_store = build_store(settings)  # the same SQLite file the app's lifespan opens
    worker_store.restock("STICKER-PACK", 10)
    # The worker's client encrypts with the data directory's key, as the app's does.
    worker_client = await connect(settings)
    async with (
        worker_for(worker_client, task_queue, make_activities(worker_store)),
        serving(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, headers=AUTH, timeout=30) as client,
    ):
        api = Api(url=url, client=client, store=worker_store)
        items = [{"sku": "STICKER-PACK", "quantity": 3}]
        created = await client.post("/orders", json=an_order(items=items))
        order = await finished(api, created.headers["location"])
        stock = (await client.get("/inventory")).json()

    assert order["status"] == "COMPLETED"
    assert {
        "warehouse": "WH-EAST",
        "sku": "STICKER-PACK",
        "available": 7,
        "held": 0,
        "shipped": 3,
    } in stock
    worker_store.engine.dispose()


def blocking_quote(started: asyncio.Event) -> Callable[..., Any]:
    """A carrier that never answers the quote (until the activity is cancelled)."""

    @activity.defn(name="calculate_shipping")
    async def quote(req: QuoteRequest) -> ShippingQuote:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return quote


async def test_cancel_before_shipment_refunds_and_releases_through_the_api(
    temporal_env: WorkflowEnvironment, data_dir: Path
) -> None:
    quoting = asyncio.Event()
    order_id = f"cx-{uuid.uuid4().hex[:8]}"
    async with api_stack(temporal_env, data_dir, replace=[blocking_quote(quoting)]) as api:
        created = await api.client.post("/orders", json=an_order(order_id=order_id))
        await asyncio.wait_for(quoting.wait(), timeout=DEADLINE_S)

        cancelled = await api.client.post(
            f"/orders/{order_id}/cancel", json={"reason": "customer changed their mind"}
        )
        shown = await api.client.get(f"/orders/{order_id}")

    assert created.status_code == 201
    assert cancelled.status_code == 200, cancelled.text
    result = cancelled.json()
    assert result["status"] == "CANCELLED"
    assert result["reason"] == "customer changed their mind"
    assert [c["action"] for c in result["compensations"]] == [
        "release_inventory",
        "release_payment",
    ]
    assert all(c["ok"] and c["undid_something"] for c in result["compensations"])
    assert shown.json()["status"] == "CANCELLED"
    assert [kind for kind, _ in ledger(api.store, order_id)] == ["authorize", "void"]
    assert api.store.available()["TEE-BLACK-M"] == STOCK


async def test_a_finished_order_is_read_through_the_api_while_no_worker_runs(
    temporal_env: WorkflowEnvironment, data_dir: Path
) -> None:
    task_queue = f"api-{uuid.uuid4().hex[:10]}"
    store = build_store(Settings(data_dir=data_dir))
    for product in CATALOG:
        store.restock(product.sku, STOCK)
    service = OrderService(temporal_env.client, store, task_queue, FAST)
    app = create_app(Settings(api_keys=KEY, data_dir=data_dir, task_queue=task_queue), service)
    async with (
        serving(app) as url,
        httpx.AsyncClient(base_url=url, headers=AUTH, timeout=30) as client,
    ):
        api = Api(url=url, client=client, store=store)
        async with worker_for(temporal_env.client, task_queue, make_activities(store)):
            created = await client.post("/orders", json=an_order())
            await finished(api, created.headers["location"])
        # The worker is gone: the finished order is read from its history, at once.
        began = time.monotonic()
        read = await client.get(created.headers["location"])
        took = time.monotonic() - began

    assert read.status_code == 200, read.text
    assert read.json()["status"] == "COMPLETED"
    assert read.json()["shipments"][0]["tracking_number"]
    assert took < 10.0  # not a wait for a worker that will not come (it was 29 s)
    store.engine.dispose()


async def test_an_order_whose_refund_keeps_failing_is_settled_through_the_api(api: Api) -> None:
    # More than the shelf holds, paid with a card that takes no refunds: the saga cannot
    # undo the charge and parks the order for a person.
    order_id = f"na-{uuid.uuid4().hex[:8]}"
    body = an_order(
        order_id=order_id,
        items=[{"sku": "STICKER-PACK", "quantity": STOCK + 1}],
        payment_token="tok_refund_fails",
    )
    created = await api.client.post("/orders", json=body)
    parked = await finished(api, created.headers["location"], "NEEDS_ATTENTION")
    assert parked["owed"] == ["release_payment"]

    wrong = await api.client.post(
        f"/orders/{order_id}/resolve", json={"action": "mark_released", "operator": "sam"}
    )
    unknown = await api.client.post(f"/orders/{order_id}/resolve", json={"action": "pray"})
    settled = await api.client.post(
        f"/orders/{order_id}/resolve",
        json={"action": "mark_refunded", "operator": "sam", "note": "bank transfer"},
    )

    assert wrong.status_code == 409, wrong.text  # nothing of that is owed
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "action"
    assert settled.status_code == 200, settled.text
    final = await finished(api, created.headers["location"], "FAILED")
    assert final["owed"] == []
    # Never captured (the stock ran out after the hold): the hold is voided by hand.
    assert [kind for kind, _ in ledger(api.store, order_id)] == ["authorize", "void"]
