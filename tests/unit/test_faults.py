"""Fault injection: reproducible, at the promised rate, and failing before or after the effect."""

from __future__ import annotations

import math
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from orderflow.adapters.faults import (
    NO_FAULTS,
    Fault,
    FaultPlan,
    RandomFaults,
    ScriptedFaults,
    ServiceUnavailable,
    call_with_faults,
)
from orderflow.domain.errors import PaymentDeclined

UNAVAILABLE, LOST = Fault.UNAVAILABLE, Fault.LOST_RESPONSE
CALLS = 20_000


def draw(plan: FaultPlan, n: int) -> list[Fault | None]:
    return [plan.next_fault() for _ in range(n)]


def tolerance(p: float, n: int) -> float:
    """Five standard errors of a share ``p`` observed over ``n`` independent calls.

    For a binomial share the standard error is sqrt(p(1-p)/n); a deviation beyond five of
    them has a chance below 1e-6, so a failure means the rate is wrong, not bad luck (and
    with fixed seeds the outcome is the same on every run anyway).
    """
    return 5 * math.sqrt(p * (1 - p) / n)


# -- RandomFaults ---------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_faults_in_the_same_order() -> None:
    first = draw(RandomFaults(rate=0.4, lost_share=0.5, seed=20240607), 2000)
    second = draw(RandomFaults(rate=0.4, lost_share=0.5, seed=20240607), 2000)

    assert first == second
    assert set(first) == {None, UNAVAILABLE, LOST}


def test_different_seeds_give_different_faults() -> None:
    assert draw(RandomFaults(rate=0.4, seed=1), 200) != draw(RandomFaults(rate=0.4, seed=2), 200)


def test_a_zero_rate_never_faults() -> None:
    assert set(draw(RandomFaults(rate=0.0, seed=7), CALLS)) == {None}


@pytest.mark.parametrize(
    ("lost_share", "expected"),
    [(0.0, {UNAVAILABLE}), (1.0, {LOST}), (0.5, {UNAVAILABLE, LOST})],
)
def test_a_rate_of_one_always_faults(lost_share: float, expected: set[Fault]) -> None:
    faults = draw(RandomFaults(rate=1.0, lost_share=lost_share, seed=7), CALLS)

    assert set(faults) == expected


@pytest.mark.parametrize("rate", [0.01, 0.1, 0.3, 0.75])
@pytest.mark.parametrize("seed", [11, 12345])
def test_the_observed_fault_share_is_close_to_the_rate(rate: float, seed: int) -> None:
    faults = draw(RandomFaults(rate=rate, seed=seed), CALLS)

    share = sum(fault is not None for fault in faults) / CALLS

    assert abs(share - rate) <= tolerance(rate, CALLS), share


@pytest.mark.parametrize("lost_share", [0.0, 0.25, 0.6, 1.0])
def test_lost_share_is_the_part_of_failures_that_happen_after_the_effect(
    lost_share: float,
) -> None:
    faults = [f for f in draw(RandomFaults(rate=0.4, lost_share=lost_share, seed=99), CALLS) if f]

    observed = Counter(faults)[LOST] / len(faults)

    assert abs(observed - lost_share) <= tolerance(lost_share, len(faults)), observed


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate": -0.01},
        {"rate": 1.01},
        {"rate": math.nan},
        {"rate": 0.5, "lost_share": -0.1},
        {"rate": 0.5, "lost_share": 1.5},
        {"rate": 0.5, "lost_share": math.nan},
    ],
    ids=[
        "rate-negative",
        "rate-above-one",
        "rate-nan",
        "lost-negative",
        "lost-above-one",
        "lost-nan",
    ],
)
def test_a_rate_or_share_outside_zero_to_one_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        RandomFaults(seed=1, **kwargs)


def test_threads_sharing_a_plan_see_the_same_faults_as_one_caller() -> None:
    # Activities draw from one plan in a thread pool: the lock keeps every draw distinct,
    # so the mix of outcomes is exactly the one a single caller would get.
    sequential = Counter(draw(RandomFaults(rate=0.3, seed=5), CALLS))
    shared = RandomFaults(rate=0.3, seed=5)
    start = threading.Barrier(8)

    def worker(_: int) -> Counter[Fault | None]:
        start.wait(timeout=30)
        return Counter(draw(shared, CALLS // 8))

    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = sum(pool.map(worker, range(8)), Counter[Fault | None]())

    assert concurrent == sequential


# -- ScriptedFaults -------------------------------------------------------------------------


def test_a_script_plays_in_order_and_then_succeeds() -> None:
    plan = ScriptedFaults([UNAVAILABLE, None, LOST, UNAVAILABLE])

    assert draw(plan, 7) == [UNAVAILABLE, None, LOST, UNAVAILABLE, None, None, None]


def test_a_script_plays_in_order_and_then_repeats_then_forever() -> None:
    plan = ScriptedFaults([None, LOST], then=UNAVAILABLE)

    assert draw(plan, 6) == [None, LOST, UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, UNAVAILABLE]


def test_a_script_is_copied_so_changing_the_list_later_changes_nothing() -> None:
    script: list[Fault | None] = [UNAVAILABLE]
    plan = ScriptedFaults(script)
    script.append(LOST)

    assert draw(plan, 3) == [UNAVAILABLE, None, None]


def test_no_faults_never_faults() -> None:
    assert set(draw(NO_FAULTS, 100)) == {None}


# -- call_with_faults -----------------------------------------------------------------------


class Effect:
    """A side effect that counts how often it ran."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self) -> str:
        self.runs += 1
        return f"receipt-{self.runs}"


def test_without_a_fault_the_effect_runs_once_and_its_result_is_returned() -> None:
    effect = Effect()

    assert call_with_faults("payment gateway", ScriptedFaults([None]), effect) == "receipt-1"
    assert effect.runs == 1


def test_an_unavailable_service_raises_without_running_the_effect() -> None:
    effect = Effect()

    with pytest.raises(ServiceUnavailable, match="payment gateway did not answer") as caught:
        call_with_faults("payment gateway", ScriptedFaults([UNAVAILABLE]), effect)

    assert effect.runs == 0
    assert caught.value.service == "payment gateway"
    assert caught.value.fault is UNAVAILABLE


def test_a_lost_response_runs_the_effect_and_still_raises() -> None:
    effect = Effect()

    with pytest.raises(ServiceUnavailable, match="answer was lost after it acted") as caught:
        call_with_faults("inventory system", ScriptedFaults([LOST]), effect)

    assert effect.runs == 1
    assert caught.value.fault is LOST


def test_a_retry_after_a_lost_response_runs_the_effect_a_second_time() -> None:
    # Why idempotency keys matter: the service acted twice for one logical request.
    effect = Effect()
    plan = ScriptedFaults([LOST])

    with pytest.raises(ServiceUnavailable):
        call_with_faults("payment gateway", plan, effect)
    result = call_with_faults("payment gateway", plan, effect)

    assert result == "receipt-2"
    assert effect.runs == 2


def test_a_business_error_from_the_effect_is_not_hidden_by_a_lost_response() -> None:
    def decline() -> str:
        raise PaymentDeclined("card declined")

    with pytest.raises(PaymentDeclined):
        call_with_faults("payment gateway", ScriptedFaults([LOST]), decline)
