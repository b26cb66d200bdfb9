"""The database: stock, reservations, payment ledger and shipments (SQLAlchemy 2)."""

from orderflow.store.db import make_engine
from orderflow.store.repository import Store

__all__ = ["Store", "make_engine"]
