"""Business errors. Each one is a final answer: retrying cannot change it."""

from __future__ import annotations


class BusinessError(Exception):
    """Base class for errors that are a business outcome, not a fault."""

    #: Stable type name carried through Temporal as ``ApplicationError.type``.
    type_name = "BusinessError"


class InvalidOrder(BusinessError):
    """The order breaks a rule; ``field`` names where, the message says which rule."""

    type_name = "InvalidOrder"

    def __init__(self, field: str, rule: str) -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")


class PaymentDeclined(BusinessError):
    """The card issuer said no."""

    type_name = "PaymentDeclined"


class OutOfStock(BusinessError):
    """Not enough units on hand for a line of the order."""

    type_name = "OutOfStock"


class AlreadyCompensated(BusinessError):
    """A step arrived after its compensation already ran (a late retry); it must not act."""

    type_name = "AlreadyCompensated"


class PaymentRefused(BusinessError):
    """The gateway refuses a payment operation its rules forbid: a capture above what the
    hold has left, after its void or its lapse; a refund above what was captured."""

    type_name = "PaymentRefused"
