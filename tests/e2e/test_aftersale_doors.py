"""Refunds and returns at every door: the real ``orderflow`` CLI and real HTTP, a real
worker and Temporal server. Each refuses the same input in the same words; nothing is
refunded twice or above what the order kept."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from orderflow.cli.common import Exit
from orderflow.store.audit import run_audit
from tests.e2e.cli import Shop, an_order, assert_clean_failure
from tests.e2e.test_api import Api, api_stack, eventually, finished
from tests.e2e.test_api import an_order as an_api_order
from tests.workflow.helpers import ledger

pytestmark = pytest.mark.e2e


@pytest.fixture
async def api(temporal_env: WorkflowEnvironment, data_dir: Path) -> AsyncIterator[Api]:
    async with api_stack(temporal_env, data_dir) as running:
        yield running


async def test_the_cli_refunds_a_line_returns_another_and_refuses_what_the_api_refuses(
    shop: Shop,
) -> None:
    order = an_order()
    order_id = order["order_id"]
    async with shop.worker() as store:
        await shop.cli("submit", str(shop.order_file(order)))
        no_reason = await shop.cli("refund", order_id, "--line", "MUG-LOGO=1")
        bad_line = await shop.cli("refund", order_id, "--reason", "x", "--line", "MUG-LOGO")
        unknown = await shop.cli("refund", order_id, "--reason", "x", "--line", "CAP-NAVY=1")
        too_much = await shop.cli("refund", order_id, "--reason", "x", "--amount", "99999")
        refunded = await shop.cli(
            "refund",
            order_id,
            "--reason",
            "chipped",
            "--line",
            "MUG-LOGO=1",
            "--id",
            "r-1",
            "--json",
        )
        again = await shop.cli(
            "refund", order_id, "--reason", "chipped", "--line", "MUG-LOGO=1", "--id", "r-1"
        )
        opened = await shop.cli(
            "returns",
            "open",
            order_id,
            "--line",
            "TEE-BLACK-M=1",
            "--reason",
            "too small",
            "--json",
        )
        return_id = json.loads(opened.stdout)["return_id"]
        received = await shop.cli("returns", "receive", return_id, "--operator", "sam")
        late = await shop.cli("returns", "receive", return_id)
        missing = await shop.cli("returns", "show", "no-such-return")
        status = await shop.cli("status", order_id)
        rows = ledger(store, order_id)
        audit = run_audit(store.engine, order_prefix=order_id)

    assert_clean_failure(no_reason, Exit.REFUSED)
    assert "reason" in no_reason.stderr
    assert_clean_failure(bad_line, Exit.REFUSED)
    assert "lines[0]: must be SKU=QUANTITY" in bad_line.stderr
    assert_clean_failure(unknown, Exit.REFUSED)
    assert "lines[0].sku" in unknown.stderr and "no line of 'CAP-NAVY'" in unknown.stderr
    assert_clean_failure(too_much, Exit.REFUSED)
    assert "amount: must be at most" in too_much.stderr
    assert refunded.returncode == Exit.OK, refunded.stderr
    assert json.loads(refunded.stdout)["status"] == "refunded"
    assert again.returncode == Exit.OK and "refunded" in again.stdout
    assert received.returncode == Exit.OK, received.stderr
    assert f"return {return_id}" in received.stdout and "refunded" in received.stdout
    assert_clean_failure(late, Exit.CONFLICT)
    assert "awaits no items" in late.stderr
    assert_clean_failure(missing, Exit.NOT_FOUND)
    # Each refund paid once: the line refund (once, though asked twice) and the return.
    assert [kind for kind, _ in rows] == ["authorize", "capture", "refund", "refund"]
    assert "money" in status.stdout and "refund r-1" in status.stdout
    assert f"return {return_id}" in status.stdout
    assert audit.ok


async def test_the_api_refunds_and_returns_with_problems_naming_the_field(api: Api) -> None:
    order_id = f"e2e-{uuid.uuid4().hex[:8]}"
    created = await api.client.post("/orders", json=an_api_order(order_id=order_id))
    order = await finished(api, created.headers["Location"])
    total = Decimal(order["total"]["total"])

    bad = await api.client.post(
        f"/orders/{order_id}/refunds", json={"reason": "", "amount": "1.001", "price": 1}
    )
    above = await api.client.post(
        f"/orders/{order_id}/refunds", json={"reason": "x", "amount": str(total + 1)}
    )
    unknown_order = await api.client.post("/orders/nope/refunds", json={"reason": "x"})
    partial = await api.client.post(
        f"/orders/{order_id}/refunds", json={"reason": "goodwill", "amount": "5.00"}
    )
    location = partial.headers["Location"]
    paid = await eventually(
        lambda: api.client.get(location),
        lambda r: r.json()["status"] == "refunded",
        "the refund to be paid",
    )
    opened = await api.client.post(
        f"/orders/{order_id}/returns",
        json={"reason": "too big", "lines": [{"sku": "TEE-BLACK-M", "quantity": 2}]},
    )
    receive = await api.client.post(
        f"{opened.headers['Location']}/receive", json={"operator": "sam"}
    )
    again = await api.client.post(f"{opened.headers['Location']}/receive")
    shown = (await api.client.get(f"/orders/{order_id}")).json()

    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"reason", "amount", "price"}
    assert above.status_code == 422 and above.json()["errors"][0]["field"] == "amount"
    assert unknown_order.status_code == 404
    assert partial.status_code == 202 and paid.json()["amount"] == "5.00"
    assert opened.status_code == 202 and opened.json()["status"] == "requested"
    assert receive.status_code == 200 and receive.json()["status"] == "refunded"
    assert again.status_code == 409
    money = shown["money"]
    refunded = Decimal("5.00") + Decimal(receive.json()["amount"])
    assert Decimal(money["captured"]) == total and Decimal(money["refunded"]) == refunded
    assert Decimal(money["kept"]) == total - refunded
    assert [r["kind"] for r in shown["returns"]] == ["refund", "return"]
    assert run_audit(api.store.engine, order_prefix=order_id).ok
