"""Fault injection at the boundary of the simulated services.

A call can fail in two ways, both transient:
- *unavailable*: the service failed before doing anything;
- *lost response*: the service did the work, then the answer was lost on the way back,
  so the caller cannot tell it from the first kind. Only idempotency makes a retry safe.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from orderflow.domain.vocabulary import Vocabulary

T = TypeVar("T")
log = logging.getLogger("orderflow.adapters")


class Fault(Vocabulary):
    """What goes wrong with one call."""

    UNAVAILABLE = "unavailable"
    LOST_RESPONSE = "lost_response"
    #: The call hangs past the caller's timeout, then does its work anyway (so a retry
    #: and the original may run at the same time).
    SLOW = "slow"


class ServiceUnavailable(Exception):
    """A transient failure of a simulated service; retrying may succeed."""

    def __init__(self, service: str, fault: Fault) -> None:
        self.service = service
        self.fault = fault
        what = "did not answer" if fault is Fault.UNAVAILABLE else "answer was lost after it acted"
        super().__init__(f"{service} {what}")


class FaultPlan:
    """Decides, call by call, whether a call fails and how."""

    def next_fault(self) -> Fault | None:  # pragma: no cover - interface
        """The fault for the next call, or None for success."""
        raise NotImplementedError


@dataclass
class RandomFaults(FaultPlan):
    """Fail ``rate`` of calls; ``lost_share`` of those failures happen after the side effect.

    Seeded for reproducible runs. Thread-safe: activities run in a thread pool.
    """

    rate: float
    lost_share: float = 0.25
    seed: int | None = None
    #: Share of *all* calls that hang for ``slow_seconds`` before acting (0 disables).
    slow_share: float = 0.0
    slow_seconds: float = 0.0
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"failure rate must be between 0 and 1, got {self.rate}")
        if not 0.0 <= self.lost_share <= 1.0:
            raise ValueError(f"lost-response share must be between 0 and 1, got {self.lost_share}")
        self._rng = random.Random(self.seed)

    def next_fault(self) -> Fault | None:
        with self._lock:
            roll = self._rng.random()
            slow_roll = self._rng.random() if self.slow_share else 1.0
        if slow_roll < self.slow_share:
            return Fault.SLOW
        if roll >= self.rate:
            return None
        return Fault.LOST_RESPONSE if roll < self.rate * self.lost_share else Fault.UNAVAILABLE


class ScriptedFaults(FaultPlan):
    """Faults in a fixed order (then success, or ``then`` forever): for tests and drills."""

    def __init__(
        self, script: Iterable[Fault | None], then: Fault | None = None, slow_seconds: float = 0.0
    ) -> None:
        self._script = list(script)
        self._then = then
        self.slow_seconds = slow_seconds
        self._lock = threading.Lock()

    def next_fault(self) -> Fault | None:
        with self._lock:
            return self._script.pop(0) if self._script else self._then


NO_FAULTS: FaultPlan = ScriptedFaults([])


def call_with_faults(service: str, plan: FaultPlan, effect: Callable[[], T]) -> T:
    """Run ``effect`` as the service would, with the plan's fault (if any) injected."""
    fault = plan.next_fault()
    if fault is Fault.UNAVAILABLE:
        raise ServiceUnavailable(service, fault)
    if fault is Fault.SLOW:
        return _slow_call(service, getattr(plan, "slow_seconds", 0.0), effect)
    result = effect()
    if fault is Fault.LOST_RESPONSE:
        raise ServiceUnavailable(service, fault)
    return result


def _slow_call(service: str, delay: float, effect: Callable[[], T]) -> T:
    """The remote side takes ``delay`` seconds, then acts, whether or not we still wait.

    The work runs in its own thread, like a remote server: when the caller gives up (its
    attempt times out and Temporal cancels it), the work still lands later. Only
    idempotency and tombstones make that safe.
    """
    outcome: dict[str, Any] = {}

    def remote() -> None:
        time.sleep(delay)
        try:
            outcome["result"] = effect()
        except BaseException as err:  # handed back to the caller, if it still waits
            outcome["error"] = err
        finally:
            log.warning("%s answered a call only after %.1fs", service, delay)

    worker = threading.Thread(target=remote, name=f"slow {service}", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.05)  # short joins let a cancellation reach the caller promptly
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]  # type: ignore[no-any-return]
