"""Connecting to Temporal: the client, its data converter (Decimal-exact, encrypted) and
runtime, and the search attributes the workflows write."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConfig, ClientConnectConfig
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import GrpcCompression

from orderflow.config import Settings
from orderflow.temporal.codec import data_converter


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


def compression_for(settings: Settings) -> GrpcCompression:
    """``ORDERFLOW_GRPC_COMPRESSION``: ``auto`` is none on loopback, gzip elsewhere."""
    if settings.grpc_compression == "gzip":
        return GrpcCompression.GZIP
    if settings.grpc_compression == "none":
        return GrpcCompression.NONE
    host = settings.temporal_address.rsplit(":", 1)[0].strip("[]")
    loopback = host == "localhost" or _is_loopback(host)
    return GrpcCompression.NONE if loopback else GrpcCompression.GZIP


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    """A client that carries Decimal (and every pydantic model) exactly."""
    return await Client.connect(
        **connect_config(settings),
        data_converter=converter_for(settings),
        runtime=runtime,
        grpc_compression=compression_for(settings),
    )


def converter_for(settings: Settings) -> DataConverter:
    """Decimal-exact pydantic payloads, AES-GCM encrypted (``Settings.keys``)."""
    return data_converter(settings.keys(), settings.encryption_key_id or None)


def metrics_runtime(port: int) -> Runtime:
    """A runtime serving Prometheus metrics (SDK and orderflow's own) on 127.0.0.1:port."""
    return Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{port}"))
    )


async def ensure_search_attributes(client: Client, keys: Sequence[SearchAttributeKey[str]]) -> None:
    """Register the keyword search attributes ``keys`` that the namespace lacks.

    The dev server gets them on its command line; on a real cluster an operator may have to
    add them (``temporal operator search-attribute create --name OrderStatus --type Keyword``).
    """
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
    )

    listing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    missing = [key.name for key in keys if key.name not in listing.custom_attributes]
    if not missing:
        return
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in missing
            },
        )
    )
