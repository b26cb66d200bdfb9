"""/inventory: stock per warehouse and SKU, and restocking."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from orderflow.api.deps import ServiceDep, require_api_key
from orderflow.api.routes.common import COMMON
from orderflow.api.schemas import Restock
from orderflow.app.orders import StockLevel

router = APIRouter(
    prefix="/inventory",
    tags=["inventory"],
    dependencies=[Depends(require_api_key)],
    responses=COMMON,
)

# Plain ``def``: the store is synchronous, so FastAPI runs these in its thread pool.


@router.get("")
def list_stock(service: ServiceDep) -> list[StockLevel]:
    """Units available (not held for orders) per warehouse and SKU."""
    return service.inventory()


@router.put("/{sku}")
def restock(sku: str, restock: Restock, service: ServiceDep) -> StockLevel:
    """Add ``units`` of ``sku`` to a warehouse's shelf; answers with the new level.

    Not idempotent despite the verb (each call adds): do not blindly retry. An unknown SKU
    is 422 naming ``sku``.
    """
    return service.restock(sku, restock.units, restock.warehouse)
