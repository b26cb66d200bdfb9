"""Orders as a person reads them in a terminal, and as JSON for scripts (redacted).

Personal data stays out of command output unless asked for (``--show-personal``): the
customer's name and address are shown then; the payment token never is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from orderflow.app.orders import OrderSummary
from orderflow.domain.models import AfterSale
from orderflow.workflows.messages import OrderResult, OrderState, PricedOrder

#: What a redacted personal field reads as.
HIDDEN = "(hidden; --show-personal shows it)"
TOKEN = "(payment token: never shown)"


def state_json(state: OrderState, *, show_personal: bool = False) -> dict[str, Any]:
    """The order's state as JSON, with the address hidden unless asked and no token."""
    data: dict[str, Any] = state.model_dump(mode="json")
    order = data.get("order")
    if isinstance(order, dict):
        order["payment_token"] = TOKEN
        if not show_personal and isinstance(order.get("address"), dict):
            order["address"] = {key: HIDDEN for key in order["address"]}
    return data


def result_json(result: OrderResult) -> dict[str, Any]:
    """The order's result as JSON (it holds no personal data)."""
    data: dict[str, Any] = result.model_dump(mode="json")
    return data


def dumps(data: object) -> str:
    """One JSON document on one line."""
    return json.dumps(data, sort_keys=True)


def priced_line(priced: PricedOrder, *, new: bool) -> str:
    """The answer to a submission, in one line."""
    total = priced.total
    how = "accepted" if new else "already submitted (a repeat: nothing more is charged)"
    review = "; it waits for review before anything is charged" if priced.needs_review else ""
    return (
        f"order {priced.order_id}: {how}; total {total.total} (goods {total.subtotal} + "
        f"shipping {total.shipping_fee} + tax {total.tax}){review}"
    )


def step_line(state: OrderState) -> str:
    """A progress line while an order runs."""
    step = f", step {state.step}" if state.step else ""
    return f"  order {state.order_id}: {state.status.value}{step}"


def state_text(state: OrderState, *, show_personal: bool = False) -> str:
    """The order's state as aligned lines for a person."""
    rows: list[tuple[str, str]] = [("status", state.status.value)]
    if state.step:
        rows.append(("step now", state.step))
    if state.total is not None:
        t = state.total
        rows.append(
            (
                "total",
                f"{t.total} (goods {t.subtotal} + shipping {t.shipping_fee} + tax {t.tax})",
            )
        )
    order = state.order
    if order is not None:
        rows.append(("customer", order.customer_id or "(none given)"))
        rows.append(("lines", ", ".join(f"{item.quantity} x {item.sku}" for item in order.items)))
        if show_personal:
            a = order.address
            rows.append(("ship to", f"{a.name}, {a.line1}, {a.postal_code} {a.city}, {a.country}"))
        rows.append(("service", order.service_level.value))
    if state.needs_review:
        rows.append(("review", "needed (its total is above the review threshold)"))
    if state.reason:
        rows.append(("reason", state.reason))
    if state.invalid is not None:
        rows.append(("invalid", f"{state.invalid.field}: {state.invalid.rule}"))
    if state.attempts:
        rows.append(
            ("attempts", ", ".join(f"{step} {n}" for step, n in sorted(state.attempts.items())))
        )
    for shipment in state.shipments:
        tracking = f" tracking {shipment.tracking_number}" if shipment.tracking_number else ""
        units = sum(line.quantity for line in shipment.lines)
        error = f" ({shipment.error})" if shipment.error else ""
        rows.append(
            (
                f"parcel {shipment.warehouse}",
                f"{shipment.status.value}, {units} unit(s){tracking}{error}",
            )
        )
    for record in state.compensations:
        outcome = "done" if record.ok else "FAILED"
        rows.append(
            (
                f"undo {record.step.value}",
                f"{record.action.value} {outcome}: {record.detail} ({record.attempts} attempt(s))",
            )
        )
    money = state.money
    if money is not None and (money.authorized or money.charged):
        parts = [f"held {money.authorized}"] if money.authorized else []
        parts += [f"captured {money.captured}"] if money.authorized else []
        parts += [f"charged {money.charged}"] if money.charged else []
        parts += [f"voided {money.voided}", f"refunded {money.refunded}", f"kept {money.kept}"]
        if money.held:
            parts.append(f"still held {money.held}")
        rows.append(("money", ", ".join(parts)))
    for sale in state.returns:
        rows.append((f"{sale.kind.value} {sale.return_id}", sale_summary(sale)))
    if state.owed:
        owed = ", ".join(action.value for action in state.owed)
        rows.append(("still owed", f"{owed} — settle with `orderflow resolve {state.order_id}`"))
    if state.seen_in == "database":
        rows.append(("seen", "by the database (no worker answers for this running order)"))
    width = max(len(label) for label, _ in rows)
    lines = [f"order {state.order_id}"]
    lines += [f"  {label:<{width}}  {value}" for label, value in rows]
    return "\n".join(lines)


def sale_summary(sale: AfterSale) -> str:
    """A refund or return in one line: status, amount, lines, reason."""
    lines = ", ".join(f"{line.quantity} x {line.sku}" for line in sale.lines)
    due = (
        f"; items due by {sale.due_at:%Y-%m-%d %H:%M} UTC"
        if sale.due_at and sale.status.value == "requested"
        else ""
    )
    note = f" ({sale.note})" if sale.note else ""
    what = f" for {lines}" if lines else ""
    return f"{sale.status.value}{note}, {sale.amount}{what}: {sale.reason}{due}"


def sale_text(sale: AfterSale) -> str:
    """A refund or return for a person."""
    return f"{sale.kind.value} {sale.return_id} of order {sale.order_id}: {sale_summary(sale)}"


def listing(orders: Sequence[OrderSummary]) -> str:
    """Orders as a table with headers."""
    width = max([len("ORDER ID"), *(len(o.order_id) for o in orders)])
    lines = [f"{'ORDER ID':<{width}}  {'STATUS':<16}  WORKFLOW"]
    lines += [f"{o.order_id:<{width}}  {o.status:<16}  {o.workflow_status}" for o in orders]
    return "\n".join(lines)
