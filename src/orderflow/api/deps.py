"""What the routes depend on: the service port, settings, the API-key check, time bounds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Protocol, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from temporalio.client import RPCTimeoutOrCancelledError

from orderflow.api.auth import ApiKeys
from orderflow.api.problems import NotReady, UpstreamTimeout
from orderflow.app.aftersale import ReceiveCreate, RefundCreate, ReturnCreate
from orderflow.app.inventory import StockLevel
from orderflow.app.orders import OrderSummary, Submission
from orderflow.config import Settings
from orderflow.domain.models import AfterSale, Order
from orderflow.domain.status import OrderStatus
from orderflow.workflows.messages import OrderResult, OrderState, Resolution, ReviewDecision

T = TypeVar("T")

#: Component name -> whether it answered (e.g. {"temporal": True, "database": True}).
HealthCheck = Callable[[], Awaitable[dict[str, bool]]]


class OrderBackend(Protocol):
    """What the API needs of :class:`orderflow.app.orders.OrderService` (tests pass a fake)."""

    async def submit(self, order: Order) -> Submission: ...

    async def status(self, order_id: str) -> OrderState: ...

    async def cancel(self, order_id: str, reason: str = "") -> OrderResult: ...

    async def review(self, order_id: str, decision: ReviewDecision) -> OrderState: ...

    async def resolve(self, order_id: str, resolution: Resolution) -> OrderState: ...

    async def list_orders(
        self, status: OrderStatus | None = None, limit: int = 100
    ) -> list[OrderSummary]: ...

    async def refund(self, order_id: str, ask: RefundCreate) -> tuple[AfterSale, bool]: ...

    async def open_return(self, order_id: str, ask: ReturnCreate) -> tuple[AfterSale, bool]: ...

    async def receive_return(self, return_id: str, ask: ReceiveCreate) -> AfterSale: ...

    async def wait_after_sale(self, sale: AfterSale) -> AfterSale: ...

    def after_sale(self, return_id: str) -> AfterSale: ...

    def inventory(self) -> list[StockLevel]: ...

    def restock(
        self, sku: str, units: int, warehouse: str, idempotency_key: str | None = None
    ) -> StockLevel: ...

    def set_stock(self, sku: str, available: int, warehouse: str) -> StockLevel: ...


@dataclass
class ApiContext:
    """Everything a request may use; lives on ``app.state.context``."""

    settings: Settings
    keys: ApiKeys
    service: OrderBackend | None = None
    health: HealthCheck | None = None


def get_context(request: Request) -> ApiContext:
    """The app's context (set by ``create_app``)."""
    context = request.app.state.context
    assert isinstance(context, ApiContext)
    return context


ContextDep = Annotated[ApiContext, Depends(get_context)]


def get_service(context: ContextDep) -> OrderBackend:
    """The order service; raises NotReady (503) before the lifespan connected it."""
    if context.service is None:
        raise NotReady
    return context.service


def get_settings(context: ContextDep) -> Settings:
    """The settings in force."""
    return context.settings


ServiceDep = Annotated[OrderBackend, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

#: Declares the scheme in OpenAPI; the check itself reads the raw header (see ApiKeys).
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key from ORDERFLOW_API_KEYS: `Authorization: Bearer <key>`.",
)


async def require_api_key(
    request: Request,
    context: ContextDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """Let the request in only with an accepted API key (401 otherwise)."""
    context.keys.check(request.headers.get("authorization"))


async def bounded(call: Awaitable[T], settings: Settings) -> T:
    """Await a Temporal-backed call for at most ``api_timeout_s`` (UpstreamTimeout: 504)."""
    try:
        return await asyncio.wait_for(call, timeout=settings.api_timeout_s)
    except (asyncio.TimeoutError, RPCTimeoutOrCancelledError) as err:
        # Cancelling an update's wait surfaces as the SDK's error, not as a TimeoutError.
        raise UpstreamTimeout from err
