"""Orders and database checks shared by the workflow tests."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from temporalio.client import Client, WorkflowHandle

from orderflow.app.orders import workflow_id
from orderflow.domain.models import Address, LineItem, Order
from orderflow.store import Store
from orderflow.store.tables import payments, reservations, shipments
from orderflow.workflows.messages import OrderInput, OrderOptions, OrderResult
from orderflow.workflows.order import OrderWorkflow


def an_order(order_id: str, token: str = "tok_visa", **changes: object) -> Order:
    """A valid two-line order (2 x TEE-BLACK-M, 1 x MUG-LOGO) unless ``changes`` say otherwise."""
    order = Order(
        order_id=order_id,
        customer_id="cust-001",
        items=[LineItem(sku="TEE-BLACK-M", quantity=2), LineItem(sku="MUG-LOGO", quantity=1)],
        address=Address(
            name="Ada Lovelace",
            line1="12 Analytical Way",
            city="London",
            postal_code="N1 9GU",
            country="GB",
        ),
        payment_token=token,
    )
    return order.model_copy(update=changes)


def ledger(store: Store, order_id: str) -> list[tuple[str, Decimal]]:
    """(kind, amount) rows of the order's payments, oldest first."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(payments.c.kind, payments.c.amount)
            .where(payments.c.order_id == order_id)
            .order_by(payments.c.id)
        )
        return [(kind, amount) for kind, amount in rows]


def units_held(store: Store, order_id: str) -> int:
    """Units currently held for the order."""
    with store.engine.connect() as conn:
        value = conn.scalar(
            select(func.coalesce(func.sum(reservations.c.quantity), 0)).where(
                reservations.c.order_id == order_id, reservations.c.status == "held"
            )
        )
        return int(value or 0)


def shipment_status(store: Store, order_id: str) -> str | None:
    """'booked', 'cancelled' or None."""
    with store.engine.connect() as conn:
        return conn.scalar(select(shipments.c.status).where(shipments.c.order_id == order_id))


#: Workflow task timeout for orders whose *local* step a test blocks on purpose: while it
#: runs, the task stays open and updates wait for its heartbeat (80% of this; 8 s by default).
BLOCKED_STEP_TASK_TIMEOUT = timedelta(seconds=2)


async def start_with_short_task_timeout(
    client: Client, order: Order, task_queue: str, options: OrderOptions
) -> WorkflowHandle[OrderWorkflow, OrderResult]:
    """Start an order like ``start_order``, with BLOCKED_STEP_TASK_TIMEOUT."""
    return await client.start_workflow(
        OrderWorkflow.run,
        OrderInput(order=order, options=options),
        id=workflow_id(order.order_id),
        task_queue=task_queue,
        task_timeout=BLOCKED_STEP_TASK_TIMEOUT,
    )
