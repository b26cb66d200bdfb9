"""The operator console as an operator uses it: a real browser, a real API process, a real
worker process, a real Temporal server. What is asserted is what the operator sees."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from orderflow.bootstrap import build_store
from orderflow.store.tables import orders, payments, stock
from tests.browser.conftest import KEY, Stack, sign_in
from tests.e2e.cli import an_order

pytestmark = pytest.mark.browser

UNFINISHED = re.compile(
    r"^(RECEIVED|VALIDATED|PAID|RESERVED|SHIPPING_QUOTED|SHIPPED|COMPENSATING|CANCELLING)$"
)
#: 10 hoodies: over the review threshold (400).
BIG = {"items": [{"sku": "HOODIE-GREY-M", "quantity": 10}]}
#: More sticker packs than the shelf holds (40), paid with a card that takes no refunds:
#: the refund fails its 2 attempts and the order waits for a person.
STUCK_REFUND = {
    "items": [{"sku": "STICKER-PACK", "quantity": 41}],
    "payment_token": "tok_refund_fails",
}


def rows(stack: Stack, query: Any) -> list[Any]:
    store = build_store(stack.shop.settings)
    try:
        with store.engine.connect() as conn:
            return list(conn.execute(query).all())
    finally:
        store.engine.dispose()


def shelf(stack: Stack, sku: str, warehouse: str) -> int:
    found = rows(
        stack, select(stock.c.available).where(stock.c.sku == sku, stock.c.warehouse == warehouse)
    )
    return int(found[0].available) if found else 0


async def submit(stack: Stack, exit_status: int = 0, **changes: Any) -> str:
    """Submit an order through the CLI (as another door would); its id."""
    body = an_order(order_id=f"b-{uuid.uuid4().hex[:10]}", **changes)
    path = stack.shop.order_file(body, name=f"{body['order_id']}.json")
    proc = await stack.arun("submit", str(path), "--json")
    assert proc.returncode == exit_status, proc.stdout + proc.stderr
    return str(body["order_id"])


async def form_fields(page: Any, selector: str) -> dict[str, str]:
    """The names and values of a form's fields, as the browser would send them."""
    fields: dict[str, str] = await page.eval_on_selector(
        selector,
        "form => Object.fromEntries(new FormData(form).entries())",
    )
    return fields


# -- security -------------------------------------------------------------------------------


async def test_without_a_session_every_page_leads_to_the_login_page(
    page: Any, stack: Stack
) -> None:
    for path in (
        "/",
        "/console/",
        "/console/orders?state=FAILED",
        "/console/orders/b-anything",
        "/console/attention",
        "/console/inventory",
        "/console/payments",
        "/console/new",
    ):
        await page.goto(f"{stack.url}{path}")
        await expect(page.locator("h1")).to_have_text("Sign in")
        assert "/console/login?next=" in page.url, (path, page.url)


async def test_a_wrong_key_is_refused_and_the_right_one_gives_a_strict_expiring_cookie(
    page: Any, stack: Stack
) -> None:
    await page.goto(f"{stack.url}/console/payments")
    await page.fill("#key", "not-the-key-0123456789abcdef")
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await page.click("button[type=submit]")
    assert (await answer.value).status == 401
    await expect(page.locator("#key-error")).to_contain_text("not accepted")
    assert not [c for c in await page.context.cookies() if c["name"] == "orderflow_session"]

    await page.fill("#key", KEY)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{stack.url}/console/payments")  # back where it was going
    await expect(page.locator("h1")).to_have_text("Payments")
    (cookie,) = [c for c in await page.context.cookies() if c["name"] == "orderflow_session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert time.time() + 3600 < cookie["expires"] <= time.time() + 8 * 3600 + 60
    assert KEY not in cookie["value"]
    assert KEY not in await page.content()

    await page.click("text=Sign out")
    await expect(page.locator("h1")).to_have_text("Sign in")
    await page.goto(f"{stack.url}/console/payments")
    await expect(page.locator("h1")).to_have_text("Sign in")


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    page: Any, stack: Stack
) -> None:
    await sign_in(page, stack, "/console/inventory")
    fields = await form_fields(page, "[data-testid=restock-form]")
    fields.update(sku="MUG-LOGO", warehouse="WH-EAST", units="9")
    before = shelf(stack, "MUG-LOGO", "WH-EAST")
    for forged in ({k: v for k, v in fields.items() if k != "csrf"}, {**fields, "csrf": "forged"}):
        answer = await page.request.post(f"{stack.url}/console/inventory/restock", form=forged)
        assert answer.status == 403, await answer.text()
        assert "CSRF" in await answer.text()
    assert shelf(stack, "MUG-LOGO", "WH-EAST") == before
    # The same form with its token does restock: the refusal was the token's.
    answer = await page.request.post(f"{stack.url}/console/inventory/restock", form=fields)
    assert answer.ok
    assert shelf(stack, "MUG-LOGO", "WH-EAST") == before + 9


async def test_pages_allow_no_inline_script_or_style(page: Any, stack: Stack) -> None:
    await sign_in(page, stack)
    for path in ("/console/", "/console/orders", "/console/new", "/console/inventory"):
        answer = await page.goto(f"{stack.url}{path}")
        policy = (await answer.all_headers())["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        html = await page.content()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert " style=" not in html, path
        assert "tok_visa" not in html.replace("tok_visa is accepted", ""), path


async def test_a_customer_named_like_a_script_is_shown_as_text(page: Any, stack: Stack) -> None:
    name = "<script>alert(1)</script>"
    order_id = await submit(stack, customer_id=name)
    await sign_in(page, stack, f"/console/orders?q={order_id}")
    row = page.locator(f"tr[data-order='{order_id}']")
    await expect(row).to_contain_text(name)
    await row.locator("a").click()
    await expect(page.locator("dl.facts.wide")).to_contain_text(name)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in await page.content()
    # (the page fixture fails the test if any dialog opened or any script error happened)


# -- the demo, live ------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def demo_orders(stack: Stack, browser: Any) -> list[str]:
    """Run the demo while the orders page is open; the ids of its orders."""
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await sign_in(page, stack, "/console/orders?q=demo-")
        await expect(page.locator("[data-testid=matching]")).to_have_text("0 orders")
        await page.evaluate("window.sameDocument = 'yes'")
        demo = asyncio.create_task(
            stack.arun(
                "demo",
                *("--orders", "24", "--seed", "5", "--payment-failure-rate", "0.3"),
                ORDERFLOW_COMPENSATION_MAX_ATTEMPTS="20",  # the demo's refunds do not give up
            )
        )
        # They appear while the demo runs, on the same page (no reload).
        await expect(page.locator("tr[data-order^='demo-']").first).to_be_visible(timeout=60_000)
        proc = await demo
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        ids = [
            r.order_id
            for r in rows(
                stack,
                select(orders.c.order_id).where(
                    orders.c.order_id.startswith("demo-"), orders.c.state.is_not(None)
                ),
            )
        ]
        assert len(ids) >= 12
        await expect(page.locator("tr[data-order^='demo-']")).to_have_count(len(ids))
        states = page.locator("tr[data-order^='demo-'] [data-testid=state]")
        await expect(states.filter(has_text=UNFINISHED)).to_have_count(0)
        await expect(states.filter(has_text="COMPLETED").first).to_be_visible()
        await expect(states.filter(has_text="FAILED").first).to_be_visible()
        assert await page.evaluate("window.sameDocument") == "yes"
    finally:
        await context.close()
    return ids


async def test_the_demos_orders_appear_and_finish_live(demo_orders: list[str]) -> None:
    assert demo_orders  # the fixture watched them appear and finish on one open page


async def test_a_failed_order_shows_each_step_its_attempts_and_its_compensation(
    page: Any, stack: Stack, demo_orders: list[str]
) -> None:
    voided = {
        r.order_id
        for r in rows(
            stack,
            select(payments.c.order_id).where(
                payments.c.kind == "void", payments.c.amount > Decimal("0")
            ),
        )
    }
    failed = [
        r.order_id
        for r in rows(stack, select(orders.c.order_id).where(orders.c.state == "FAILED"))
        if r.order_id in voided and r.order_id in demo_orders
    ]
    assert failed, "the demo's batch always has an order whose card hold must be voided"
    await sign_in(page, stack, "/console/orders?state=FAILED")
    await page.click(f"tr[data-order='{failed[0]}'] a")
    await expect(page.locator("[data-testid=order-status]")).to_have_text("FAILED")
    timeline = page.locator("[data-testid=timeline]")
    await expect(timeline).to_contain_text("Authorized the card (a hold)")
    await expect(timeline).to_contain_text("Released the payment")
    await expect(timeline).not_to_contain_text("Waiting for a reviewer")  # no review here
    await expect(timeline.locator(".moment.outcome")).to_contain_text("Failed")
    for step in await timeline.locator(".moment.step, .moment.compensation").all():
        await expect(step.locator(".attempts")).to_have_text(re.compile(r"^\d+ attempts?$"))
    compensations = page.locator("[data-testid=compensations]")
    await expect(compensations).to_contain_text("release_payment")
    await expect(compensations).to_contain_text("done")
    await expect(compensations).to_contain_text("voided the hold")
    # Held, never taken: a void in the ledger, no capture and no refund.
    ledger = page.locator("[data-testid=ledger]")
    await expect(ledger).to_contain_text("void")
    await expect(ledger).not_to_contain_text("capture")
    await expect(page.locator("[data-testid=money]")).to_contain_text(
        re.compile(r"Captured\s*0\.00")
    )
    link = await page.get_attribute("a.external", "href")
    assert link is not None and f"/workflows/order-{failed[0]}/" in link


async def test_an_order_awaiting_review_changes_status_live_when_approved_elsewhere(
    page: Any, stack: Stack
) -> None:
    order_id = await submit(stack, **BIG)
    await sign_in(page, stack, f"/console/orders?q={order_id}")
    await page.evaluate("window.sameDocument = 'yes'")
    status = page.locator(f"tr[data-order='{order_id}'] [data-testid=state]")
    await expect(status).to_have_text("AWAITING_REVIEW")
    approved = await stack.arun("approve", order_id, "--reviewer", "kim")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    await expect(status).to_have_text("COMPLETED")
    assert await page.evaluate("window.sameDocument") == "yes"


# -- acting on orders -----------------------------------------------------------------------


async def test_approve_one_order_awaiting_review_and_reject_another(
    page: Any, stack: Stack
) -> None:
    approve, reject = await submit(stack, **BIG), await submit(stack, **BIG)
    await sign_in(page, stack, "/console/attention")
    queue = page.locator("[data-testid=review-list]")
    await expect(queue.locator(f"tr[data-order='{approve}']")).to_be_visible()
    await expect(queue.locator(f"tr[data-order='{reject}']")).to_contain_text("UTC")  # deadline

    await page.goto(f"{stack.url}/console/orders/{approve}")
    await page.fill("#reviewer", "sam")
    await page.fill("#review-note", "known customer")
    await page.click("button[value=approve]")
    await expect(page.locator(".flash")).to_contain_text(f"order {approve} approved")
    await expect(page.locator("[data-testid=order-status]")).to_have_text("COMPLETED")
    await expect(page.locator("[data-testid=timeline]")).to_contain_text("Approved by sam")

    await page.goto(f"{stack.url}/console/attention")
    await page.locator(
        f"[data-testid=review-list] tr[data-order='{reject}'] button[value=reject]"
    ).click()
    await expect(page.locator(".flash")).to_contain_text(f"order {reject} rejected")
    await expect(
        page.locator(f"[data-testid=review-list] tr[data-order='{reject}']")
    ).to_have_count(0)
    await page.goto(f"{stack.url}/console/orders/{reject}")
    await expect(page.locator("[data-testid=order-status]")).to_have_text("CANCELLED")
    await expect(page.locator("[data-testid=timeline]")).to_contain_text("Rejected by")
    # Rejected in review: the card was held and the hold voided; nothing was taken.
    kinds = rows(stack, select(payments.c.kind).where(payments.c.order_id == reject))
    assert [kind for (kind,) in kinds] == ["authorize", "void"]


async def test_cancel_an_order(page: Any, stack: Stack) -> None:
    order_id = await submit(stack, **BIG)  # waits for review: not shipped, so cancellable
    await sign_in(page, stack, f"/console/orders/{order_id}")
    await page.fill("#cancel-reason", "customer called")
    await page.click("text=Cancel the order")
    await expect(page.locator(".flash")).to_contain_text("CANCELLED")
    await expect(page.locator("[data-testid=order-status]")).to_have_text("CANCELLED")
    await expect(page.locator("[data-testid=timeline]")).to_contain_text("customer called")
    # Cancelled in review: the card was only held; the hold is voided, nothing taken.
    await expect(page.locator("[data-testid=ledger]")).to_contain_text("void")
    await expect(page.locator("[data-testid=money]")).to_contain_text(
        re.compile(r"Captured\s*0\.00")
    )
    # Too late now: the console says so, as the API would (409), and nothing changes.
    answer = await page.request.post(
        f"{stack.url}/console/orders/{order_id}/cancel",
        form={"csrf": await page.get_attribute("input[name=csrf]", "value") or ""},
    )
    assert answer.ok  # back on the order's page, which says why
    assert "it has finished and can no longer be cancelled" in await answer.text()


async def test_settle_an_order_that_needs_attention(page: Any, stack: Stack) -> None:
    order_id = await submit(stack, 3, **STUCK_REFUND)  # 3: it did not complete
    await sign_in(page, stack, "/console/attention")
    row = page.locator(f"[data-testid=needs-attention-list] tr[data-order='{order_id}']")
    await expect(row).to_be_visible()
    await row.locator("text=Settle…").click()
    await expect(page.locator("[data-testid=order-status]")).to_have_text("NEEDS_ATTENTION")
    await expect(page.locator("#resolve-h")).to_be_visible()
    await page.check("input[value=mark_refunded]")
    await page.fill("#operator", "sam")
    await page.fill("#resolve-note", "refunded by bank transfer")
    await page.click("button:has-text('Settle')")
    await expect(page.locator(".flash")).to_contain_text("mark refunded recorded")
    await expect(page.locator("[data-testid=order-status]")).to_have_text("FAILED")
    timeline = page.locator("[data-testid=timeline]")
    await expect(timeline).to_contain_text("Sam: mark refunded")
    await expect(timeline).to_contain_text("refunded by bank transfer")
    # The card was only held: recording the fix voids the hold in the ledger.
    await expect(page.locator("[data-testid=ledger]")).to_contain_text("void")
    await page.goto(f"{stack.url}/console/attention")
    await expect(page.locator(f"tr[data-order='{order_id}']")).to_have_count(0)


async def test_refund_a_line_and_take_in_a_return_of_a_delivered_order(
    page: Any, stack: Stack
) -> None:
    order_id = await submit(stack)  # 2 x TEE-BLACK-M, 1 x MUG-LOGO; completes
    await sign_in(page, stack, f"/console/orders/{order_id}")
    await expect(page.locator("[data-testid=order-status]")).to_have_text("COMPLETED")
    # A refund above what is left is refused naming the field, as the API does.
    await page.fill("#refund-amount", "100000")
    await page.fill("#refund-reason", "goodwill")
    await page.click("button:has-text('Refund')")
    await expect(page.locator(".flash")).to_contain_text("amount: must be at most")
    await page.select_option("#refund-sku", "MUG-LOGO")
    await page.fill("#refund-reason", "arrived chipped")
    await page.click("button:has-text('Refund')")
    await expect(page.locator(".flash")).to_contain_text("is refunded")
    returns = page.locator("[data-testid=returns]")
    await expect(returns).to_contain_text("arrived chipped")
    await expect(returns).to_contain_text("refunded")
    await page.select_option("#return-sku", "TEE-BLACK-M")
    await page.fill("#return-qty", "2")
    await page.fill("#return-reason", "too small")
    await page.click("button:has-text('Open a return')")
    await expect(page.locator(".flash")).to_contain_text("waiting for the items")
    await page.click("button:has-text('Items received')")
    await expect(page.locator(".flash")).to_contain_text("items back on the shelf; refunded")
    await expect(page.locator("[data-testid=ledger] .pill", has_text="refund")).to_have_count(2)
    # Nothing is left to refund after the line and the return but the shipping.
    money = page.locator("[data-testid=money]")
    await expect(money).to_contain_text("Refunded")
    await expect(page.locator("[data-testid=returns] tbody tr")).to_have_count(2)


async def test_restock_a_sku_once_per_form(page: Any, stack: Stack) -> None:
    await sign_in(page, stack, "/console/inventory")
    before = shelf(stack, "CAP-NAVY", "WH-WEST")
    await page.select_option("#restock-sku", "CAP-NAVY")
    await page.select_option("#restock-warehouse", "WH-WEST")
    await page.fill("#restock-units", "7")
    fields = await form_fields(page, "[data-testid=restock-form]")
    await page.click("[data-testid=restock-form] button")
    await expect(page.locator(".flash")).to_contain_text(
        f"CAP-NAVY at WH-WEST: {before + 7} available"
    )
    cell = page.locator("tr[data-shelf='WH-WEST/CAP-NAVY'] [data-testid=available]")
    await expect(cell).to_have_text(str(before + 7))
    # The same form sent again (a double click, a resend) adds nothing more.
    again = await page.request.post(f"{stack.url}/console/inventory/restock", form=fields)
    assert again.ok
    assert shelf(stack, "CAP-NAVY", "WH-WEST") == before + 7
    # A refused restock names its field; nothing changes.
    await page.fill("#restock-units", "lots")
    await page.click("[data-testid=restock-form] button")
    await expect(page.locator(".flash.bad")).to_contain_text("units: must be a whole number")
    assert shelf(stack, "CAP-NAVY", "WH-WEST") == before + 7


async def test_place_an_order_through_the_form_and_see_a_refused_one_name_its_field(
    page: Any, stack: Stack
) -> None:
    customer = f"phone-{uuid.uuid4().hex[:6]}"
    await sign_in(page, stack, "/console/new")

    async def fill(**values: str) -> None:
        for name, value in values.items():
            await page.fill(f"#f-{name}", value)

    good = dict(
        customer_id=customer,
        sku_0="TEE-BLACK-M",
        quantity_0="2",
        name="Ada Lovelace",
        line1="12 Analytical Way",
        city="London",
        postal_code="N1 9GU",
        country="GB",
        payment_token="tok_visa",
    )
    await fill(**{**good, "quantity_0": "two"})
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await page.click("text=Place the order")
    assert (await answer.value).status == 422
    await expect(page.locator("#e-quantity_0")).to_have_text("must be a whole number")
    await expect(page.locator("[data-testid=form-errors]")).to_contain_text("items[0].quantity")
    assert await page.input_value("#f-payment_token") == ""  # the token is never sent back
    assert await page.input_value("#f-city") == "London"  # the rest is kept

    await fill(quantity_0="2", city=" ", payment_token="tok_visa")
    await page.click("text=Place the order")
    await expect(page.locator("#e-city")).to_contain_text("must not be blank")
    await expect(page.locator("[data-testid=form-errors]")).to_contain_text("address.city")
    assert rows(stack, select(orders.c.order_id).where(orders.c.customer_id == customer)) == []

    await fill(city="London", payment_token="tok_visa")
    await page.click("text=Place the order")
    await expect(page.locator(".flash")).to_contain_text("accepted: total 48.47")
    await expect(page.locator("[data-testid=order-status]")).to_have_text("COMPLETED")
    await expect(page.locator("[data-testid=shipments]")).to_contain_text("booked")
    placed = rows(stack, select(orders.c.order_id).where(orders.c.customer_id == customer))
    assert len(placed) == 1


async def test_the_overview_counts_what_the_store_holds(page: Any, stack: Stack) -> None:
    await sign_in(page, stack)
    by_state = page.locator("[data-testid=by-state]")
    await expect(by_state).to_contain_text("COMPLETED")
    counted = {
        state: int(await by_state.locator(f"[data-state={state}]").inner_text())
        for state in ("COMPLETED",)
    }
    stored = rows(stack, select(orders.c.order_id).where(orders.c.state == "COMPLETED"))
    assert counted["COMPLETED"] == len(stored)
    await expect(page.locator("svg.chart rect.ok").first).to_be_attached()
