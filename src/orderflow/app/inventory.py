"""Stock as every door handles it: levels per shelf, restocks (idempotent by key), counts.

Needs only the store (no Temporal): ``orderflow inventory`` works while no server runs.
"""

from __future__ import annotations

from pydantic import BaseModel

from orderflow.app.errors import ConflictError, OrderRejected
from orderflow.domain.catalog import WAREHOUSES
from orderflow.store import Store

#: The most units a shelf's restock or level may name at once.
MAX_STOCK = 1_000_000


class StockLevel(BaseModel):
    """Units of one SKU in one warehouse: on the shelf, held for orders, shipped."""

    warehouse: str
    sku: str
    available: int
    held: int = 0
    shipped: int = 0


class Stock:
    """Read and change the shelves."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._skus: set[str] | None = None

    def levels(self) -> list[StockLevel]:
        """Units per warehouse and SKU: on the shelf, held for orders, shipped."""
        return [
            StockLevel(warehouse=w, sku=sku, available=available, held=held, shipped=shipped)
            for w, sku, available, held, shipped in self.store.stock_levels()
        ]

    def restock(
        self, sku: str, units: int, warehouse: str, idempotency_key: str | None = None
    ) -> StockLevel:
        """Add ``units`` to a shelf; with ``idempotency_key``, once however often repeated.

        Raises:
            OrderRejected: unknown SKU or warehouse, or units not a whole number 1..1,000,000.
            ConflictError: the key was used for a different restock.
        """
        if isinstance(units, bool) or not 0 < units <= MAX_STOCK:
            raise OrderRejected.one(
                "units", f"must be a whole number from 1 to {MAX_STOCK:,}", "InvalidRestock"
            )
        self._known_shelf(sku, warehouse)
        try:
            available = self.store.restock(sku, units, warehouse, idempotency_key)
        except ValueError as err:
            raise ConflictError(str(err)) from None
        return self._level(sku, warehouse, available)

    def set(self, sku: str, available: int, warehouse: str) -> StockLevel:
        """Set the units on a shelf (after a count); idempotent.

        Raises:
            OrderRejected: unknown SKU or warehouse, or a level not a whole number
                0..1,000,000.
        """
        if isinstance(available, bool) or not 0 <= available <= MAX_STOCK:
            raise OrderRejected.one(
                "available", f"must be a whole number from 0 to {MAX_STOCK:,}", "InvalidRestock"
            )
        self._known_shelf(sku, warehouse)
        return self._level(sku, warehouse, self.store.set_stock(sku, available, warehouse))

    def _known_shelf(self, sku: str, warehouse: str) -> None:
        if warehouse not in WAREHOUSES:
            raise OrderRejected.one(
                "warehouse", f"unknown warehouse; one of {', '.join(WAREHOUSES)}", "InvalidRestock"
            )
        if self._skus is None:
            self._skus = set(self.store.catalog())
        if sku not in self._skus:
            raise OrderRejected.one("sku", f"unknown SKU {sku[:64]!r}", "InvalidRestock")

    def _level(self, sku: str, warehouse: str, available: int) -> StockLevel:
        for level in self.levels():
            if level.sku == sku and level.warehouse == warehouse:
                return level
        return StockLevel(warehouse=warehouse, sku=sku, available=available)  # pragma: no cover
