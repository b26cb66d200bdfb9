"""Order statuses as the outside world sees them."""

from __future__ import annotations

from orderflow.domain.vocabulary import Vocabulary


class OrderStatus(Vocabulary):
    """Where an order is in its life. The last four are terminal."""

    RECEIVED = "RECEIVED"
    VALIDATED = "VALIDATED"
    AWAITING_REVIEW = "AWAITING_REVIEW"
    #: The card holds the total (a hold, no money moved); orders taken the old way are PAID.
    AUTHORIZED = "AUTHORIZED"
    PAID = "PAID"
    RESERVED = "RESERVED"
    SHIPPING_QUOTED = "SHIPPING_QUOTED"
    SHIPPED = "SHIPPED"
    COMPENSATING = "COMPENSATING"
    CANCELLING = "CANCELLING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    NEEDS_ATTENTION = "NEEDS_ATTENTION"

    @property
    def cancellable(self) -> bool:
        """True while a cancel request is still allowed (no shipment booked yet)."""
        return self in CANCELLABLE

    @property
    def terminal(self) -> bool:
        """True once the order will not change by itself any more."""
        return self in TERMINAL


TERMINAL = frozenset(
    {OrderStatus.COMPLETED, OrderStatus.FAILED, OrderStatus.CANCELLED, OrderStatus.NEEDS_ATTENTION}
)

CANCELLABLE = frozenset(
    {
        OrderStatus.RECEIVED,
        OrderStatus.VALIDATED,
        OrderStatus.AWAITING_REVIEW,
        OrderStatus.AUTHORIZED,
        OrderStatus.PAID,
        OrderStatus.RESERVED,
        OrderStatus.SHIPPING_QUOTED,
    }
)

#: Where an order can stay for long: waiting for a person, unwinding (compensations retry
#: for minutes), or done. The other statuses pass in milliseconds unless a step retries.
RESTING = frozenset(
    {OrderStatus.AWAITING_REVIEW, OrderStatus.COMPENSATING, OrderStatus.CANCELLING, *TERMINAL}
)

#: Where an order waits for someone or went wrong: every resting status but COMPLETED. A
#: completed order's workflow is Completed in Temporal, one in progress Running: Temporal's
#: own status says it, no search-attribute write needed.
WAITING = RESTING - {OrderStatus.COMPLETED}
