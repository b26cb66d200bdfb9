"""Connecting to Temporal and starting orders (idempotently)."""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import WorkflowAlreadyStartedError

from orderflow.config import Settings
from orderflow.domain.models import Order
from orderflow.workflows.messages import OrderInput, OrderOptions, OrderResult, RetryOptions
from orderflow.workflows.order import OrderWorkflow


async def connect(settings: Settings) -> Client:
    """A client that carries Decimal (and every pydantic model) exactly."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


def workflow_id(order_id: str) -> str:
    """One workflow per order id: submitting the same order twice never starts a second saga."""
    return f"order-{order_id}"


def order_options(settings: Settings) -> OrderOptions:
    """Retry options from settings."""
    return OrderOptions(
        steps=RetryOptions(max_attempts=settings.max_attempts),
        compensations=OrderOptions().compensations.model_copy(
            update={"max_attempts": settings.compensation_max_attempts}
        ),
    )


async def start_order(
    client: Client, order: Order, task_queue: str, options: OrderOptions | None = None
) -> WorkflowHandle[OrderWorkflow, OrderResult]:
    """Start the order's workflow, or return the handle of the one already started."""
    try:
        return await client.start_workflow(
            OrderWorkflow.run,
            OrderInput(order=order, options=options or OrderOptions()),
            id=workflow_id(order.order_id),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle_for(OrderWorkflow.run, workflow_id(order.order_id))
