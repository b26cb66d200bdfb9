"""The FastAPI application: ``create_app`` wires settings, auth, errors, limits and routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

import orderflow
from orderflow.api.auth import ApiConfigError, ApiKeys, parse_api_keys
from orderflow.api.deps import ApiContext, HealthCheck, OrderBackend
from orderflow.api.docs import install_docs
from orderflow.api.limits import BodySizeLimit
from orderflow.api.probes import service_health
from orderflow.api.problems import install_problem_handlers
from orderflow.api.routes import aftersale, codec, health, inventory, orders
from orderflow.app.orders import OrderService
from orderflow.config import Settings

log = logging.getLogger("orderflow.api")

DESCRIPTION = """\
Submit, follow, cancel and review orders processed by Temporal; read and restock inventory.

Every endpoint but `/healthz` needs `Authorization: Bearer <key>` with a key from
`ORDERFLOW_API_KEYS`. Errors are `application/problem+json` (RFC 9457); validation
problems list each field at fault in `errors`. Money is a decimal string (`"51.98"`).
"""


def _lifespan(context: ApiContext) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if not context.keys.enforced:
            log.warning("the API accepts every request: authentication is OFF")
        if context.service is not None:  # injected (tests): nothing to connect
            yield
            return
        from orderflow.bootstrap import connected_service

        async with connected_service(context.settings) as service:
            context.service = service
            context.health = service_health(service)
            log.info(
                "API connected to Temporal at %s (namespace %r, task queue %r)",
                context.settings.temporal_address,
                context.settings.temporal_namespace,
                context.settings.task_queue,
            )
            try:
                yield
            finally:
                context.service = None
                context.health = None

    return lifespan


def _operation_id(route: APIRoute) -> str:
    """Stable, readable operation ids for generated clients: ``orders-create_order``."""
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def create_app(
    settings: Settings | None = None,
    service: OrderBackend | None = None,
    *,
    health_check: HealthCheck | None = None,
    insecure_no_auth: bool = False,
) -> FastAPI:
    """The REST API.

    Args:
        settings: configuration (default: from the environment).
        service: the order service to use; ``None`` connects to Temporal and builds the
            store when the app starts (its lifespan), as ``orderflow api`` does.
        health_check: probe for ``/healthz`` (default: the service's Temporal client and
            database, when ``service`` is a real OrderService).
        insecure_no_auth: serve without authentication (local development only).

    Raises:
        ApiConfigError: no API keys configured (and ``insecure_no_auth`` not given), or
            a key too short.
    """
    settings = settings or Settings()
    keys = parse_api_keys(settings.api_keys.get_secret_value())
    if not keys and not insecure_no_auth:
        raise ApiConfigError(
            "no API keys configured: set ORDERFLOW_API_KEYS (comma-separated) or, for local "
            "development only, pass --insecure-no-auth"
        )
    if health_check is None and isinstance(service, OrderService):
        health_check = service_health(service)
    context = ApiContext(
        settings=settings,
        keys=ApiKeys(keys, enforced=not insecure_no_auth),
        service=service,
        health=health_check,
    )
    # Imported here so that `python -m orderflow.api.openapi` runs that module only once.
    from orderflow.api.openapi import problem_openapi

    app = FastAPI(
        title="orderflow",
        version=orderflow.__version__,
        description=DESCRIPTION,
        lifespan=_lifespan(context),
        docs_url=None,  # served locally by install_docs (no CDN)
        redoc_url=None,
        generate_unique_id_function=_operation_id,
    )
    app.state.context = context
    install_docs(app)
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.include_router(orders.router)
    app.include_router(aftersale.router)
    app.include_router(inventory.router)
    app.include_router(health.router)
    app.include_router(codec.router)
    # The Temporal Web UI calls the codec endpoint from the browser.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.codec_cors_origins,
        allow_methods=["POST"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
    )
    app.openapi = lambda: problem_openapi(app)  # type: ignore[method-assign]
    from orderflow.console import install_console

    install_console(app, context)
    return app
