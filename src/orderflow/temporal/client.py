"""Connecting to Temporal and starting orders (idempotently)."""

from __future__ import annotations

from collections.abc import Mapping

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConfig, ClientConnectConfig
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from orderflow.config import Settings
from orderflow.domain.models import Order
from orderflow.domain.status import OrderStatus
from orderflow.temporal.codec import data_converter
from orderflow.workflows.messages import OrderInput, OrderOptions, OrderResult, RetryOptions
from orderflow.workflows.observability import ORDER_STATUS
from orderflow.workflows.order import OrderWorkflow


def connect_config(settings: Settings, env: Mapping[str, str] | None = None) -> ClientConnectConfig:
    """Connection options from the SDK's standard environment configuration.

    ``TEMPORAL_API_KEY``, ``TEMPORAL_TLS_CLIENT_CERT_PATH`` / ``..._KEY_PATH``,
    ``TEMPORAL_TLS_SERVER_CA_CERT_PATH``, ``TEMPORAL_PROFILE`` and the TOML config file are
    read by temporalio itself; address and namespace come from our settings (which also
    read ``TEMPORAL_ADDRESS`` and ``TEMPORAL_NAMESPACE``).
    """
    config = ClientConfig.load_client_connect_config(override_env_vars=env)
    config["target_host"] = settings.temporal_address
    config["namespace"] = settings.temporal_namespace
    return config


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    """A client that carries Decimal (and every pydantic model) exactly."""
    return await Client.connect(
        **connect_config(settings),
        data_converter=converter_for(settings),
        runtime=runtime,
    )


def converter_for(settings: Settings) -> DataConverter:
    """Decimal-exact pydantic payloads, AES-GCM encrypted when keys are configured."""
    return data_converter(
        settings.encryption_keys.get_secret_value(), settings.encryption_key_id or None
    )


def metrics_runtime(port: int) -> Runtime:
    """A runtime serving Prometheus metrics (SDK and orderflow's own) on 127.0.0.1:port."""
    return Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{port}"))
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
        review_threshold=settings.review_threshold,
        review_timeout_s=settings.review_timeout_s,
        activity_mode=settings.activity_mode,
        status_search_attribute=settings.status_search_attribute,
        status_updates=settings.status_updates,
    )


def initial_search_attributes(options: OrderOptions | None) -> TypedSearchAttributes | None:
    """OrderStatus=RECEIVED from the first moment, so list filters see new orders."""
    if options is not None and not options.status_search_attribute:
        return None
    return TypedSearchAttributes([SearchAttributePair(ORDER_STATUS, OrderStatus.RECEIVED.value)])


async def ensure_search_attributes(client: Client) -> None:
    """Register the OrderStatus search attribute if the namespace lacks it.

    The dev server gets it on its command line; on a real cluster an operator may have to
    add it (``temporal operator search-attribute create --name OrderStatus --type Keyword``).
    """
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
    )

    listing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    if ORDER_STATUS.name in listing.custom_attributes:
        return
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={ORDER_STATUS.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD},
        )
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
            search_attributes=initial_search_attributes(options),
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle_for(OrderWorkflow.run, workflow_id(order.order_id))
