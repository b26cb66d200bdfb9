"""Health probes: does Temporal answer, does the database answer (each time-bounded)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import text

from orderflow.api.deps import HealthCheck
from orderflow.app.orders import OrderService

log = logging.getLogger("orderflow.api")

PROBE_TIMEOUT_S = 2.0


def service_health(service: OrderService, timeout_s: float = PROBE_TIMEOUT_S) -> HealthCheck:
    """A probe of the service's Temporal client and its store's database."""

    async def temporal() -> bool:
        try:
            return await service.client.service_client.check_health(
                timeout=timedelta(seconds=timeout_s)
            )
        except Exception as err:  # any failure means "does not answer"
            log.warning("health: Temporal does not answer: %s", type(err).__name__)
            return False

    def ping_database() -> None:
        with service.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    async def database() -> bool:
        try:
            await asyncio.wait_for(asyncio.to_thread(ping_database), timeout=timeout_s)
        except Exception as err:
            log.warning("health: the database does not answer: %s", type(err).__name__)
            return False
        return True

    async def check() -> dict[str, bool]:
        temporal_ok, database_ok = await asyncio.gather(temporal(), database())
        return {"temporal": temporal_ok, "database": database_ok}

    return check
