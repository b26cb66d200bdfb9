"""/inventory: stock per warehouse and SKU, and restocking."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header

from orderflow.api.deps import ServiceDep, require_api_key
from orderflow.api.routes.common import COMMON, problems
from orderflow.api.schemas import Restock, StockCount
from orderflow.app.inventory import StockLevel

router = APIRouter(
    prefix="/inventory",
    tags=["inventory"],
    dependencies=[Depends(require_api_key)],
    responses=COMMON,
)

# Plain ``def``: the store is synchronous, so FastAPI runs these in its thread pool.


RestockKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        description=(
            "Makes the restock safe to repeat: the same key adds its units once (a repeat "
            "answers with the current level); the same key for a different restock is 409."
        ),
    ),
]


@router.get("")
def list_stock(service: ServiceDep) -> list[StockLevel]:
    """Units per warehouse and SKU: on the shelf (``available``), held for orders whose
    parcel is not booked yet (``held``), and in booked parcels (``shipped``)."""
    return service.inventory()


@router.put("/{sku}", responses=problems(409))
def restock(
    sku: str, restock: Restock, service: ServiceDep, idempotency_key: RestockKey = None
) -> StockLevel:
    """Add ``units`` of ``sku`` to a warehouse's shelf; answers with the new level.

    Send an ``Idempotency-Key`` to make a retry safe: without one, each call adds. An
    unknown SKU is 422 naming ``sku``.
    """
    return service.restock(sku, restock.units, restock.warehouse, idempotency_key)


@router.put("/{sku}/level")
def set_level(sku: str, count: StockCount, service: ServiceDep) -> StockLevel:
    """Set the units of ``sku`` on a warehouse's shelf after a count (idempotent)."""
    return service.set_stock(sku, count.available, count.warehouse)
