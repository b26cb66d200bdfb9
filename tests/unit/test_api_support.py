"""An in-memory stand-in for OrderService and a client for the ASGI app (no tests here)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI

from orderflow.api import create_app
from orderflow.app.aftersale import ReceiveCreate, RefundCreate, ReturnCreate
from orderflow.app.errors import AfterSaleNotFound, ConflictError, OrderNotFound, OrderRejected
from orderflow.app.inventory import StockLevel
from orderflow.app.orders import OrderSummary, Submission
from orderflow.config import Settings
from orderflow.domain.catalog import WAREHOUSES
from orderflow.domain.models import (
    AfterSale,
    AfterSaleKind,
    AfterSaleStatus,
    Order,
    OrderTotal,
    PricedLine,
)
from orderflow.domain.status import OrderStatus
from orderflow.workflows.messages import (
    CompensationRecord,
    OrderResult,
    OrderState,
    PricedOrder,
    Resolution,
    ReviewDecision,
)

KEY = "unit-test-key-0123456789"
OTHER_KEY = "second-unit-test-key-abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
TOTAL = OrderTotal(
    subtotal=Decimal("51.98"),
    shipping_fee=Decimal("5.00"),
    tax=Decimal("4.16"),
    total=Decimal("61.14"),
)


def an_order_body(**changes: Any) -> dict[str, Any]:
    """A valid POST /orders body unless ``changes`` say otherwise."""
    body: dict[str, Any] = {
        "customer_id": "cust-001",
        "items": [{"sku": "TEE-BLACK-M", "quantity": 2}, {"sku": "MUG-LOGO", "quantity": 1}],
        "address": {
            "name": "Ada Lovelace",
            "line1": "12 Analytical Way",
            "city": "London",
            "postal_code": "N1 9GU",
            "country": "GB",
        },
        "payment_token": "tok_visa_secret_123",
    }
    body.update(changes)
    return body


class FakeService:
    """Just enough of OrderService: orders in a dict, stock in a dict, scripted failures."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.status_of: dict[str, OrderStatus] = {}
        self.calls: list[str] = []
        self.fail: dict[str, Exception] = {}  # method name -> raise this
        self.hang: set[str] = set()  # method names that never answer
        self.stock = {(w, "TEE-BLACK-M"): 10 for w in WAREHOUSES}
        self.restocked: set[str] = set()
        self.sales: dict[str, AfterSale] = {}

    async def _enter(self, method: str) -> None:
        self.calls.append(method)
        if method in self.fail:
            raise self.fail[method]
        if method in self.hang:
            await asyncio.Event().wait()

    async def submit(self, order: Order) -> Submission:
        await self._enter("submit")
        known = self.orders.get(order.order_id)
        if known is not None and known != order:
            raise ConflictError(f"order id {order.order_id!r} is already used by a different order")
        self.orders[order.order_id] = order
        self.status_of.setdefault(order.order_id, OrderStatus.VALIDATED)
        lines = [
            PricedLine(sku=i.sku, quantity=i.quantity, unit_price=Decimal("19.99"), weight_grams=1)
            for i in order.items
        ]
        priced = PricedOrder(
            order_id=order.order_id,
            status=OrderStatus.VALIDATED,
            total=TOTAL,
            lines=lines,
            needs_review=False,
            repeat=known is not None,
        )
        return Submission(order=priced, new=known is None)

    async def status(self, order_id: str) -> OrderState:
        await self._enter("status")
        if order_id not in self.orders:
            raise OrderNotFound(order_id)
        return OrderState(
            order_id=order_id,
            status=self.status_of[order_id],
            step="payment",
            attempts={"validate": 1},
            compensations=[],
            total=TOTAL,
            order=self.orders[order_id],
        )

    async def cancel(self, order_id: str, reason: str = "") -> OrderResult:
        await self._enter("cancel")
        if order_id not in self.orders:
            raise OrderNotFound(order_id)
        if not self.status_of[order_id].cancellable:
            raise ConflictError(f"order {order_id} is COMPLETED and can no longer be cancelled")
        self.status_of[order_id] = OrderStatus.CANCELLED
        return OrderResult(
            order_id=order_id,
            status=OrderStatus.CANCELLED,
            reason=reason or "cancelled on request",
            total=TOTAL,
            compensations=[
                CompensationRecord(
                    step="payment",
                    action="refund_payment",
                    ok=True,
                    undid_something=True,
                    detail="refunded 61.14",
                )
            ],
        )

    async def review(self, order_id: str, decision: ReviewDecision) -> OrderState:
        await self._enter("review")
        if self.status_of.get(order_id) is not OrderStatus.AWAITING_REVIEW:
            raise ConflictError(f"order {order_id} is VALIDATED, not awaiting review")
        return await self.status(order_id)

    async def resolve(self, order_id: str, resolution: Resolution) -> OrderState:
        await self._enter("resolve")
        if self.status_of.get(order_id) is not OrderStatus.NEEDS_ATTENTION:
            raise ConflictError(f"order {order_id} is not waiting for an operator")
        return await self.status(order_id)

    async def list_orders(
        self, status: OrderStatus | None = None, limit: int = 100
    ) -> list[OrderSummary]:
        await self._enter("list_orders")
        return [
            OrderSummary(order_id=oid, status=s.value, workflow_status="RUNNING")
            for oid, s in self.status_of.items()
            if status is None or s is status
        ][:limit]

    async def refund(self, order_id: str, ask: RefundCreate) -> tuple[AfterSale, bool]:
        await self._enter("refund")
        return self._after_sale(order_id, AfterSaleKind.REFUND, ask.refund_id, ask.amount)

    async def open_return(self, order_id: str, ask: ReturnCreate) -> tuple[AfterSale, bool]:
        await self._enter("open_return")
        return self._after_sale(order_id, AfterSaleKind.RETURN, ask.return_id, None)

    def _after_sale(
        self, order_id: str, kind: AfterSaleKind, given: str | None, amount: Decimal | None
    ) -> tuple[AfterSale, bool]:
        if order_id not in self.orders:
            raise OrderNotFound(order_id)
        if self.status_of[order_id] is not OrderStatus.COMPLETED:
            raise ConflictError(f"order {order_id} is not COMPLETED")
        if amount is not None and amount > TOTAL.total:
            raise OrderRejected.one("amount", f"must be at most {TOTAL.total}")
        return_id = given or f"r-{len(self.sales)}"
        if return_id in self.sales:
            return self.sales[return_id], False
        sale = AfterSale(
            return_id=return_id,
            order_id=order_id,
            kind=kind,
            status=AfterSaleStatus.REQUESTED,
            amount=amount or TOTAL.total,
        )
        self.sales[return_id] = sale
        return sale, True

    async def receive_return(self, return_id: str, ask: ReceiveCreate) -> AfterSale:
        await self._enter("receive_return")
        sale = self.after_sale(return_id)
        if sale.kind is not AfterSaleKind.RETURN or sale.status is not AfterSaleStatus.REQUESTED:
            raise ConflictError(f"return {return_id} awaits no items")
        self.sales[return_id] = sale.model_copy(update={"status": AfterSaleStatus.REFUNDED})
        return self.sales[return_id]

    async def wait_after_sale(self, sale: AfterSale) -> AfterSale:
        await self._enter("wait_after_sale")
        return self.sales[sale.return_id]

    def after_sale(self, return_id: str) -> AfterSale:
        self.calls.append("after_sale")
        if return_id not in self.sales:
            raise AfterSaleNotFound(return_id)
        return self.sales[return_id]

    def inventory(self) -> list[StockLevel]:
        self.calls.append("inventory")
        return [StockLevel(warehouse=w, sku=s, available=n) for (w, s), n in self.stock.items()]

    def restock(
        self, sku: str, units: int, warehouse: str, idempotency_key: str | None = None
    ) -> StockLevel:
        self.calls.append("restock")
        if (warehouse, sku) not in self.stock:
            raise OrderRejected.one(
                "sku", f"unknown SKU {sku!r} or warehouse {warehouse!r}", "InvalidRestock"
            )
        if idempotency_key is not None and idempotency_key in self.restocked:
            return StockLevel(warehouse=warehouse, sku=sku, available=self.stock[warehouse, sku])
        if idempotency_key is not None:
            self.restocked.add(idempotency_key)
        if (warehouse, sku) not in self.stock:
            raise OrderRejected.one(
                "sku", f"unknown SKU {sku!r} or warehouse {warehouse!r}", "InvalidRestock"
            )
        self.stock[warehouse, sku] += units
        return StockLevel(warehouse=warehouse, sku=sku, available=self.stock[warehouse, sku])

    def set_stock(self, sku: str, available: int, warehouse: str) -> StockLevel:
        self.calls.append("set_stock")
        if (warehouse, sku) not in self.stock:
            raise OrderRejected.one("sku", f"unknown SKU {sku!r}", "InvalidRestock")
        self.stock[warehouse, sku] = available
        return StockLevel(warehouse=warehouse, sku=sku, available=available)


async def healthy() -> dict[str, bool]:
    """A health probe where everything answers."""
    return {"temporal": True, "database": True}


def fake_app(service: FakeService, **settings: Any) -> FastAPI:
    """The real app over the fake service, with KEY and OTHER_KEY accepted."""
    values: dict[str, Any] = {"api_keys": f"{KEY},{OTHER_KEY}", **settings}
    return create_app(Settings(**values), service, health_check=healthy)


@asynccontextmanager
async def client_for(app: FastAPI, **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to ``app`` in process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api", **kwargs) as client:
        yield client
