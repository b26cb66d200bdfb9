"""What the application layer raises, for every door to translate the same way.

The API answers each with a problem+json status, the CLI with one line on stderr and an exit
code, the console with a message on the page; none of them shows a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode


@dataclass(frozen=True)
class FieldError:
    """One broken rule: which field (``items[0].quantity``) and the rule it broke."""

    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}"


class OrderflowError(Exception):
    """Base of the errors a door translates (never a bug: those stay plain exceptions)."""


class OrderRejected(OrderflowError, ValueError):
    """The input breaks a rule; nothing was started, charged or reserved.

    ``errors`` names every field at fault (at least one); ``field`` and ``rule`` are the
    first. ``error_type`` is the rule family (``InvalidOrder``, ``InvalidRestock``, ...).
    """

    def __init__(self, errors: Sequence[FieldError], error_type: str = "InvalidOrder") -> None:
        if not errors:
            raise ValueError("OrderRejected needs at least one FieldError")
        self.errors = list(errors)
        self.error_type = error_type
        super().__init__("; ".join(str(error) for error in self.errors))

    @classmethod
    def one(cls, field: str, rule: str, error_type: str = "InvalidOrder") -> OrderRejected:
        """A rejection naming one field."""
        return cls([FieldError(field, rule)], error_type)

    @property
    def field(self) -> str:
        """The first field at fault."""
        return self.errors[0].field

    @property
    def rule(self) -> str:
        """The rule the first field broke."""
        return self.errors[0].rule


class OrderNotFound(OrderflowError, LookupError):
    """No order with that id."""

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        super().__init__(f"no order with id {order_id!r}")


class AfterSaleNotFound(OrderflowError, LookupError):
    """No refund or return with that id."""

    def __init__(self, return_id: str) -> None:
        self.return_id = return_id
        super().__init__(f"no refund or return with id {return_id!r}")


class ConflictError(OrderflowError):
    """The request conflicts with the order's state (cancel after shipment, a reused id...)."""


class OrderFailed(OrderflowError):
    """An order a caller waited for ended FAILED, CANCELLED or NEEDS_ATTENTION (``result``)."""

    def __init__(self, message: str, result: object) -> None:
        super().__init__(message)
        self.result = result


class TemporalUnavailable(OrderflowError):
    """Temporal does not answer at ``address``."""

    def __init__(self, address: str, detail: str = "") -> None:
        self.address = address
        super().__init__(
            f"Temporal does not answer at {address}"
            + (f" ({detail})" if detail else "")
            + "; start it with `orderflow server --detach` or set TEMPORAL_ADDRESS"
        )


class StoreUnavailable(OrderflowError):
    """The database does not answer (or does not exist) at ``url`` (password masked)."""

    def __init__(self, url: str, detail: str = "", *, missing: bool = False) -> None:
        self.url = url
        what = (
            f"there is no database at {url}"
            if missing
            else f"the database does not answer at {url}"
        )
        super().__init__(what + (f" ({detail})" if detail else ""))


class NoWorker(OrderflowError):
    """Nothing progresses: no worker serves the order's task queue, or every worker fails
    its tasks (a wrong encryption key, another version). ``accepted``: the order itself is
    durably accepted and will run once a worker can."""

    def __init__(self, message: str, *, task_queue: str, accepted: bool = False) -> None:
        self.task_queue = task_queue
        self.accepted = accepted
        super().__init__(message)


def unavailable(client: Client, err: RPCError) -> Exception:
    """A Temporal call's failure as the doors' error: ``TemporalUnavailable`` when the
    server did not answer, the error itself otherwise."""
    if err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return TemporalUnavailable(client.service_client.config.target_host, err.message)
    return err
