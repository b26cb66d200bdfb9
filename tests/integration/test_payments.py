"""The gateway's rules in the ledger, on SQLite and PostgreSQL: holds, captures, voids and
refunds, each once per key; no capture above the hold, after its void or lapse; no refund
above what was taken; partial captures and refunds allowed."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from orderflow.adapters.faults import Fault, ScriptedFaults, ServiceUnavailable
from orderflow.adapters.simulated import PaymentGateway, RefundRefused
from orderflow.domain.errors import AlreadyCompensated, PaymentDeclined, PaymentRefused
from orderflow.store import Store
from orderflow.store.audit import run_audit

NewId = Callable[[str], str]
D = Decimal
NOW = datetime.now(timezone.utc)
WEEK = NOW + timedelta(days=7)


def hold(store: Store, order_id: str, amount: str = "50.00", key: str = "") -> str:
    return store.authorize(
        order_id, D(amount), key or f"{order_id}:authorize", expires_at=WEEK
    ).reference


def test_parcels_capture_their_shares_and_a_retry_captures_nothing_more(
    store: Store, new_order_id: NewId
) -> None:
    order_id = new_order_id("split")
    ref = hold(store, order_id)
    again = store.authorize(order_id, D("50.00"), f"{order_id}:authorize", expires_at=WEEK)
    east = store.capture(order_id, ref, D("20.00"), f"{order_id}:capture:WH-EAST")
    west = store.capture(order_id, ref, D("30.00"), f"{order_id}:capture:WH-WEST")
    retried = store.capture(order_id, ref, D("20.00"), f"{order_id}:capture:WH-EAST")

    assert again.reference == ref  # the same hold, not a second one
    assert retried.reference == east.reference
    money = store.money_of(order_id)
    assert (money.authorized, money.captured, money.kept) == (D("50.00"), D("50.00"), D("50.00"))
    assert money.open_holds(NOW) == 0
    assert west.amount == D("30.00")


def test_a_capture_above_what_the_hold_has_left_is_refused(
    store: Store, new_order_id: NewId
) -> None:
    order_id = new_order_id("above")
    ref = hold(store, order_id)
    store.capture(order_id, ref, D("40.00"), f"{order_id}:capture:a")
    with pytest.raises(PaymentRefused, match="above what authorization"):
        store.capture(order_id, ref, D("10.01"), f"{order_id}:capture:b")
    assert store.money_of(order_id).captured == D("40.00")


def test_no_capture_after_the_hold_was_voided_or_has_lapsed(
    store: Store, new_order_id: NewId
) -> None:
    voided, lapsed, unknown = new_order_id("voided"), new_order_id("lapsed"), new_order_id("none")
    ref = hold(store, voided)
    released = store.void(voided, f"{voided}:void")
    with pytest.raises((PaymentRefused, AlreadyCompensated)):
        store.capture(voided, ref, D("1.00"), f"{voided}:capture")
    old = store.authorize(
        lapsed, D("9.00"), f"{lapsed}:authorize", expires_at=NOW - timedelta(seconds=1)
    ).reference
    with pytest.raises(PaymentRefused, match="expired"):
        store.capture(lapsed, old, D("9.00"), f"{lapsed}:capture")
    with pytest.raises(PaymentRefused, match="no authorization"):
        store.capture(unknown, "au_nothing", D("1.00"), f"{unknown}:capture")

    assert released.amount == D("50.00")
    assert store.money_of(voided).captured == 0 and store.money_of(lapsed).captured == 0
    # A lapsed hold holds nothing: no void is needed, and none is recorded.
    assert store.void(lapsed, f"{lapsed}:void").amount == 0
    assert store.money_of(lapsed).open_holds(NOW) == 0


def test_a_void_is_once_per_key_and_blocks_a_late_authorization(
    store: Store, new_order_id: NewId
) -> None:
    order_id = new_order_id("late")
    hold(store, order_id)
    first = store.void(order_id, f"{order_id}:void")
    second = store.void(order_id, f"{order_id}:void")
    with pytest.raises(AlreadyCompensated):
        store.authorize(order_id, D("50.00"), f"{order_id}:authorize:2", expires_at=WEEK)

    assert first.amount == second.amount == D("50.00")
    assert store.money_of(order_id).voided == D("50.00")  # recorded once


def test_the_compensation_refunds_exactly_what_was_captured_and_voids_the_rest(
    store: Store, new_order_id: NewId
) -> None:
    order_id = new_order_id("half")
    ref = hold(store, order_id, "80.00")
    store.capture(order_id, ref, D("30.00"), f"{order_id}:capture:WH-EAST")
    voided = store.void(order_id, f"{order_id}:void")
    refunded = store.refund(order_id, f"{order_id}:refund")
    again = store.refund(order_id, f"{order_id}:refund")

    assert (voided.amount, refunded.amount, again.amount) == (D("50.00"), D("30.00"), D("30.00"))
    money = store.money_of(order_id)
    assert money.kept == 0 and money.open_holds(NOW) == 0


def test_partial_refunds_after_delivery_never_exceed_what_was_taken(
    store: Store, new_order_id: NewId
) -> None:
    order_id = new_order_id("returns")
    ref = hold(store, order_id, "60.00")
    store.capture(order_id, ref, D("60.00"), f"{order_id}:capture")
    store.refund_amount(order_id, D("25.00"), f"{order_id}:refund:a", note="damaged mug")
    store.refund_amount(order_id, D("25.00"), f"{order_id}:refund:a", note="damaged mug")  # retry
    with pytest.raises(PaymentRefused, match="above what order"):
        store.refund_amount(order_id, D("35.01"), f"{order_id}:refund:b", note="too much")
    with pytest.raises(PaymentRefused, match="positive"):
        store.refund_amount(order_id, D("0.00"), f"{order_id}:refund:c", note="nothing")
    store.refund_amount(order_id, D("35.00"), f"{order_id}:refund:d", note="the rest")

    money = store.money_of(order_id)
    assert (money.refunded, money.kept) == (D("60.00"), D("0.00"))


def test_thirty_racing_captures_of_one_hold_take_exactly_the_hold(
    store: Store, new_order_id: NewId
) -> None:
    order_id = new_order_id("race")
    ref = hold(store, order_id, "10.00")

    def capture(n: int) -> str:
        try:
            store.capture(order_id, ref, D("1.00"), f"{order_id}:capture:{n}")
            return "taken"
        except PaymentRefused:
            return "refused"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(capture, range(30)))

    assert outcomes.count("taken") == 10 and outcomes.count("refused") == 20
    assert store.money_of(order_id).captured == D("10.00")


def test_the_audit_reports_open_holds_captures_above_holds_and_refunds_above_captures(
    store: Store, new_order_id: NewId
) -> None:
    order_id = new_order_id("audited")
    hold(store, order_id, "12.00")
    report = run_audit(store.engine, order_prefix=order_id)
    assert not report.ok and report.holds_left_open == 1
    assert "a hold of 12.00 left open" in report.violations[0]
    store.void(order_id, f"{order_id}:void")
    assert run_audit(store.engine, order_prefix=order_id).ok


def test_the_simulated_gateway_declines_refuses_and_loses_answers_like_a_real_one(
    store: Store, new_order_id: NewId
) -> None:
    declined, closed, lost = new_order_id("declined"), new_order_id("closed"), new_order_id("lost")
    gateway = PaymentGateway(store)
    with pytest.raises(PaymentDeclined):
        gateway.authorize(declined, D("5.00"), "tok_declined", f"{declined}:a", expires_at=WEEK)
    gateway.authorize(closed, D("5.00"), "tok_refund_fails", f"{closed}:a", expires_at=WEEK)
    with pytest.raises(RefundRefused, match="voids"):
        gateway.void(closed, f"{closed}:void")
    gateway.authorize(lost, D("5.00"), "tok_reauth_declined", f"{lost}:a", expires_at=WEEK)
    with pytest.raises(PaymentDeclined, match="re-authorization"):
        gateway.authorize(
            lost, D("5.00"), "tok_reauth_declined", f"{lost}:b", expires_at=WEEK, again=True
        )
    # A lost answer: the hold was placed; the retry (same key) places no second one.
    flaky = PaymentGateway(store, ScriptedFaults([Fault.LOST_RESPONSE]))
    order_id = new_order_id("flaky")
    with pytest.raises(ServiceUnavailable):
        flaky.authorize(order_id, D("7.00"), "tok_visa", f"{order_id}:a", expires_at=WEEK)
    flaky.authorize(order_id, D("7.00"), "tok_visa", f"{order_id}:a", expires_at=WEEK)

    assert store.money_of(declined).authorized == 0
    assert store.money_of(order_id).authorized == D("7.00")
