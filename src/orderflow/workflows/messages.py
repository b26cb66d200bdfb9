"""Inputs and outputs of the order workflow and its activities (one model per call)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from orderflow.domain.catalog import DEFAULT_WAREHOUSE
from orderflow.domain.models import (
    AfterSale,
    AfterSaleStatus,
    AuthorizationReceipt,
    Order,
    OrderTotal,
    PaymentReceipt,
    PricedLine,
    ReservedLine,
    ServiceLevel,
    ShippingQuote,
    ValidatedOrder,
)
from orderflow.domain.status import OrderStatus
from orderflow.domain.vocabulary import Vocabulary


class Step(Vocabulary):
    """The order's steps as results, logs, compensation records and retry figures name them.

    The seed's six steps are validate, total (pure workflow code, no activity), charge
    (``payment``), reserve (``inventory``, after ``allocation`` to warehouses), shipping
    (``shipping_quote``) and schedule (``shipment``); ``outcome`` records how the order
    ended and ``review`` is the wait for a reviewer.
    """

    VALIDATE = "validate"
    PAYMENT = "payment"
    ALLOCATION = "allocation"
    INVENTORY = "inventory"
    SHIPPING_QUOTE = "shipping_quote"
    SHIPMENT = "shipment"
    #: Taking a parcel's share from the card's hold once the parcel's shipment is booked.
    CAPTURE = "capture"
    OUTCOME = "outcome"
    REVIEW = "review"

    def key(self, warehouse: str | None = None) -> str:
        """The key of this step's attempts: ``inventory:WH-EAST`` for a warehouse's branch."""
        return f"{self.value}:{warehouse}" if warehouse else self.value


#: The forward steps that are activities, in order.
STEPS: tuple[Step, ...] = (
    Step.VALIDATE,
    Step.PAYMENT,
    Step.ALLOCATION,
    Step.INVENTORY,
    Step.SHIPPING_QUOTE,
    Step.SHIPMENT,
    Step.CAPTURE,
)


class ActivityMode(Vocabulary):
    """Which steps run as local activities (``LOCAL_STEPS``).

    - ``regular``: every step is an activity task on the server (each attempt a pending
      activity in the Web UI);
    - ``mixed``: the short steps without side effects on money or stock (validate,
      allocation, shipping quote) and the outcome record run as local activities; charge,
      reserve and book stay regular;
    - ``local``: every forward step runs as a local activity (the fastest). Compensations
      are regular activities in every mode.
    """

    REGULAR = "regular"
    MIXED = "mixed"
    LOCAL = "local"


ACTIVITY_MODES: tuple[ActivityMode, ...] = tuple(ActivityMode)


class StatusUpdates(Vocabulary):
    """When the OrderStatus search attribute is written (each write is a history event and
    a visibility write on the server).

    - ``every``: at every status change;
    - ``resting``: only where an order can rest: waiting for a reviewer or an operator,
      unwinding, and final (plus once when it leaves a wait). An order running through its
      steps keeps ``RECEIVED`` (a few milliseconds per step); its query shows the step.
    - ``waits``: only where an order waits for someone or went wrong: waiting for a
      reviewer or an operator, unwinding, failed, cancelled; cleared when a wait ends. An
      order in progress or completed has none: its workflow's own status (Running,
      Completed) says so, and an order that runs through costs no write at all.
    """

    EVERY = "every"
    RESTING = "resting"
    WAITS = "waits"


#: The steps each mode runs locally.
LOCAL_STEPS: dict[ActivityMode, frozenset[Step]] = {
    ActivityMode.REGULAR: frozenset(),
    ActivityMode.MIXED: frozenset(
        {Step.VALIDATE, Step.ALLOCATION, Step.SHIPPING_QUOTE, Step.OUTCOME}
    ),
    ActivityMode.LOCAL: frozenset({*STEPS, Step.OUTCOME}),
}


class CompensationAction(Vocabulary):
    """What the saga does to undo a step."""

    REFUND_PAYMENT = "refund_payment"
    RELEASE_INVENTORY = "release_inventory"
    CANCEL_SHIPMENT = "cancel_shipment"
    #: Orders taken by authorization: void the hold, and refund exactly what was captured.
    RELEASE_PAYMENT = "release_payment"


class ShipmentStatus(Vocabulary):
    """A parcel's life: planned -> reserved -> quoted -> booked; or failed / released /
    cancelled."""

    PLANNED = "planned"
    RESERVED = "reserved"
    QUOTED = "quoted"
    BOOKED = "booked"
    FAILED = "failed"
    RELEASED = "released"
    CANCELLED = "cancelled"


class ResolutionAction(Vocabulary):
    """What an operator can do for an order in NEEDS_ATTENTION."""

    RETRY = "retry"
    MARK_REFUNDED = "mark_refunded"
    MARK_RELEASED = "mark_released"
    MARK_CANCELLED = "mark_cancelled"

    @property
    def settles(self) -> CompensationAction | None:
        """The compensation this records as done by hand (None: retry them all); for
        ``mark_refunded`` the old-style refund (``settling`` finds the one owed)."""
        return _SETTLES[self][0] if _SETTLES[self] else None

    def settling(self, owed: list[CompensationAction]) -> CompensationAction | None:
        """Which of the ``owed`` compensations this records as done by hand (None: none
        it could settle; also for ``retry``, which settles them all)."""
        return next((action for action in _SETTLES[self] if action in owed), None)


_SETTLES: dict[ResolutionAction, tuple[CompensationAction, ...]] = {
    ResolutionAction.RETRY: (),
    # The money came back by hand: an old-style refund, or a released payment (the hold
    # voided and the captures refunded).
    ResolutionAction.MARK_REFUNDED: (
        CompensationAction.REFUND_PAYMENT,
        CompensationAction.RELEASE_PAYMENT,
    ),
    ResolutionAction.MARK_RELEASED: (CompensationAction.RELEASE_INVENTORY,),
    ResolutionAction.MARK_CANCELLED: (CompensationAction.CANCEL_SHIPMENT,),
}


class RetryOptions(BaseModel):
    """One Temporal RetryPolicy plus the per-attempt timeout, as plain numbers."""

    max_attempts: int = 3
    initial_interval_ms: int = 200
    backoff: float = 2.0
    max_interval_ms: int = 2_000
    attempt_timeout_ms: int = 10_000


class OrderOptions(BaseModel):
    """How persistently the workflow retries; part of the input so tests can shorten it."""

    steps: RetryOptions = Field(default_factory=RetryOptions)
    # Compensations must not give up easily: more attempts, longer back-off.
    compensations: RetryOptions = Field(
        default_factory=lambda: RetryOptions(
            max_attempts=20, initial_interval_ms=500, backoff=2.0, max_interval_ms=10_000
        )
    )
    #: Orders whose total exceeds this wait for a reviewer's decision (None: never).
    review_threshold: Decimal | None = None
    #: How long a risky order waits for a decision before it is cancelled automatically.
    review_timeout_s: float = 24 * 3600
    #: Keep the OrderStatus search attribute current (one history event per change).
    status_search_attribute: bool = True
    #: Which status changes reach the search attribute (``StatusUpdates``). The default
    #: here is what orders started before this option existed did (so their histories
    #: replay); new orders get ``ORDERFLOW_STATUS_UPDATES`` (default ``waits``).
    status_updates: StatusUpdates = StatusUpdates.EVERY
    #: Which steps run as local activities (``LOCAL_STEPS``). The default here is what
    #: orders started before this option existed ran (so their histories replay); new
    #: orders get ``ORDERFLOW_ACTIVITY_MODE`` (default ``mixed``) from ``order_options``.
    activity_mode: ActivityMode = ActivityMode.REGULAR
    #: How long the card's hold lasts (a gateway's usual 7 days); an order still waiting
    #: when a seventh of it is left re-authorizes.
    authorization_ttl_s: float = 7 * 24 * 3600


class OrderInput(BaseModel):
    """The workflow's single argument."""

    order: Order
    options: OrderOptions = Field(default_factory=OrderOptions)
    #: The submission that started the order (a fresh id per submit call): a later
    #: submission of the same order is told it was a repeat.
    submission: str = ""
    #: The client's store (its id, and its URL without password, for the message): a
    #: worker writing another database refuses the order instead of acting on it.
    store_id: str = ""
    store: str = ""


class ValidateRequest(BaseModel):
    """The validation step's argument: the order, and the store its client uses.

    Orders started before this model existed sent the bare order; it still reads.
    """

    order: Order
    store_id: str = ""
    store: str = ""
    #: The order's review rule, so the console's read model can show an order waiting
    #: for review (and until when) from the moment it is priced.
    review_threshold: Decimal | None = None
    review_timeout_s: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_order(cls, data: Any) -> Any:
        if isinstance(data, dict) and "order" not in data:
            return {"order": data}
        return data


#: The order flow this code runs new orders on. v7: every change of v2-v6 without a patch
#: marker (each marker costs the server a history event and a search-attribute write per
#: order), and the card's hold kept by a timer only while the order waits for a person.
ORDER_FLOW = 7


class Validation(ValidatedOrder):
    """What the validation step answers: the validated order, and the flow it runs on.

    ``flow`` is how an order knows which code it runs, without a patch marker: the worker
    that validated it stamped the flow its code runs (``ORDER_FLOW``), and the result is
    recorded in the order's history, so every replay reads the same. Orders validated
    before v7 have none in their history and read 0: they take the older path, with the
    ``workflow.patched`` markers they recorded.
    """

    flow: int = 0


class PricedRequest(BaseModel):
    """The ``priced`` update's argument: who asks, and a digest of the order they mean."""

    submission: str = ""
    #: ``order_digest`` of the submitted order: a different order under the same id is
    #: refused instead of being answered with this one.
    digest: str = ""


class PaymentRequest(BaseModel):
    order_id: str
    amount: Decimal
    payment_token: str


class AuthorizeRequest(BaseModel):
    """Hold ``amount`` on the card until ``expires_at`` (the workflow's clock decides).

    ``sequence`` counts the order's holds: 1 for the first, more for a re-authorization,
    which then voids the hold it ``replaces``.
    """

    order_id: str
    amount: Decimal
    payment_token: str
    expires_at: datetime
    sequence: int = 1
    replaces: str = ""


class CaptureRequest(BaseModel):
    """Take one parcel's share from the hold, once its shipment is booked."""

    order_id: str
    authorization: str
    amount: Decimal
    warehouse: str = DEFAULT_WAREHOUSE


class AllocateRequest(BaseModel):
    order_id: str
    lines: list[PricedLine]


class ReserveRequest(BaseModel):
    order_id: str
    lines: list[PricedLine]
    warehouse: str = DEFAULT_WAREHOUSE


class QuoteRequest(BaseModel):
    order_id: str
    lines: list[PricedLine]
    service_level: ServiceLevel
    warehouse: str = DEFAULT_WAREHOUSE


class ShipmentRequest(BaseModel):
    order_id: str
    quote: ShippingQuote


class CompensationRequest(BaseModel):
    order_id: str


class OutcomeRequest(BaseModel):
    """The order's outcome, recorded in the database when the workflow ends."""

    order_id: str
    status: OrderStatus
    total: Decimal | None = None
    reason: str = ""
    error_type: str = ""


class CompensationRecord(BaseModel):
    """One compensation the saga ran: which step it undid and what happened."""

    step: Step
    action: CompensationAction
    ok: bool
    undid_something: bool
    detail: str
    attempts: int = 1


class ShipmentOutcome(BaseModel):
    """What happened to the parcel shipped from one warehouse."""

    warehouse: str
    lines: list[ReservedLine]
    status: ShipmentStatus = ShipmentStatus.PLANNED
    quote: ShippingQuote | None = None
    tracking_number: str | None = None
    error: str = ""
    #: The parcel's share of the total, taken from the card's hold when it shipped.
    captured: Decimal | None = None


class CancelRequest(BaseModel):
    """Why the customer or an operator cancels the order."""

    reason: str = "cancelled on request"


class ReviewDecision(BaseModel):
    """A reviewer's decision on a risky order."""

    approved: bool
    reviewer: str = ""
    note: str = ""


class Resolution(BaseModel):
    """An operator's decision for an order that NEEDS_ATTENTION."""

    action: ResolutionAction
    operator: str = ""
    note: str = ""


class ManualCompensation(BaseModel):
    """A compensation an operator did by hand, to be recorded in the database."""

    order_id: str
    action: CompensationAction
    operator: str = ""
    note: str = ""


class PricedOrder(BaseModel):
    """What submission answers synchronously: the validated, priced order."""

    order_id: str
    status: OrderStatus
    total: OrderTotal
    lines: list[PricedLine]
    needs_review: bool
    #: True when the asking submission did not start the order (it already existed).
    repeat: bool = False


class InvalidField(BaseModel):
    """The field an invalid order broke a rule of, as data (never parsed from a message)."""

    field: str
    rule: str


class OrderResult(BaseModel):
    """The business outcome of an order. Failure is a result, not a crashed workflow."""

    order_id: str
    status: OrderStatus
    reason: str = ""
    failed_step: Step | Literal[""] = ""
    #: The failure's error type (InvalidOrder, OutOfStock, ServiceUnavailable, ...).
    error_type: str = ""
    #: For an InvalidOrder: the field and the rule.
    invalid: InvalidField | None = None
    total: OrderTotal | None = None
    #: The validated, priced lines (empty for orders that never validated, and in
    #: results recorded before this field existed).
    lines: list[PricedLine] = Field(default_factory=list)
    payment: PaymentReceipt | None = None
    #: The card's hold (orders taken by authorization; ``payment`` for those charged).
    authorization: AuthorizationReceipt | None = None
    shipments: list[ShipmentOutcome] = Field(default_factory=list)
    compensations: list[CompensationRecord] = Field(default_factory=list)
    attempts: dict[str, int] = Field(default_factory=dict)

    @property
    def tracking_numbers(self) -> list[str]:
        """Tracking numbers of the booked shipments."""
        return [s.tracking_number for s in self.shipments if s.tracking_number]

    @property
    def retries(self) -> int:
        """Attempts beyond the first, over every step and compensation."""
        steps = sum(max(0, n - 1) for n in self.attempts.values())
        return steps + sum(max(0, c.attempts - 1) for c in self.compensations)

    @property
    def compensated(self) -> bool:
        """True when a compensation actually undid something (money back, stock released)."""
        return any(c.undid_something for c in self.compensations)


class OrderState(BaseModel):
    """What the status query returns, while the order runs and after."""

    order_id: str
    status: OrderStatus
    step: str
    attempts: dict[str, int]
    compensations: list[CompensationRecord]
    total: OrderTotal | None = None
    reason: str = ""
    shipments: list[ShipmentOutcome] = Field(default_factory=list)
    order: Order | None = None
    lines: list[PricedLine] = Field(default_factory=list)
    needs_review: bool = False
    error_type: str = ""
    invalid: InvalidField | None = None
    failed_step: Step | Literal[""] = ""
    #: Compensations still owed while the order NEEDS_ATTENTION.
    owed: list[CompensationAction] = Field(default_factory=list)
    #: Where this state was read: the running workflow, a finished one's history, or the
    #: store's read model (running, but no worker answers; ``note`` says why).
    seen_in: Literal["workflow", "history", "database"] = "workflow"
    note: str = ""
    #: The card's hold, while the order holds one.
    authorization: AuthorizationReceipt | None = None
    #: The order's money as the ledger has it, and its returns (the order service adds
    #: them from the store; the workflow's query leaves them empty).
    money: OrderMoney | None = None
    returns: list[AfterSale] = Field(default_factory=list)


class OrderMoney(BaseModel):
    """One order's money: held, taken, voided, refunded, and what the shop keeps."""

    authorized: Decimal = Decimal("0.00")
    captured: Decimal = Decimal("0.00")
    #: Taken the old way (authorize and capture at once).
    charged: Decimal = Decimal("0.00")
    voided: Decimal = Decimal("0.00")
    refunded: Decimal = Decimal("0.00")
    kept: Decimal = Decimal("0.00")
    #: Still held on the card (neither captured, voided nor lapsed).
    held: Decimal = Decimal("0.00")
    #: What a refund may still give back: kept, less refunds and returns under way.
    refundable: Decimal = Decimal("0.00")


class AfterSaleInput(BaseModel):
    """A refund or return workflow's argument: the row the service recorded, and how long
    a return waits for its items."""

    sale: AfterSale
    #: How long a return waits for its items before it expires (unused by a refund).
    window_s: float = 30 * 24 * 3600
    #: The refund is money owed: it retries like a compensation.
    retries: RetryOptions = Field(
        default_factory=lambda: RetryOptions(
            max_attempts=20, initial_interval_ms=500, backoff=2.0, max_interval_ms=10_000
        )
    )


class ReceiveRequest(BaseModel):
    """A return's items arrived (who took them in, and a note)."""

    operator: str = ""
    note: str = ""


class AfterSaleRequest(BaseModel):
    """An activity's argument: the refund or return, and who acts."""

    sale: AfterSale
    status: AfterSaleStatus | None = None
    note: str = ""


class ReconcileRequest(BaseModel):
    """How a reconciliation pass runs."""

    repair: bool = True
    stale_after_s: float = 3600.0
