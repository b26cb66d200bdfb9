"""GET /healthz: no authentication; says whether Temporal and the database answer."""

from __future__ import annotations

from fastapi import APIRouter, Response

from orderflow.api.deps import ContextDep
from orderflow.api.schemas import HealthPublic

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    responses={503: {"model": HealthPublic, "description": "Temporal or the database is down"}},
)
async def health(context: ContextDep, response: Response) -> HealthPublic:
    """200 when Temporal and the database both answer, else 503 with the same body."""
    checks = await context.health() if context.health else {}
    temporal = checks.get("temporal", False)
    database = checks.get("database", False)
    healthy = temporal and database
    if not healthy:
        response.status_code = 503
    return HealthPublic(
        status="ok" if healthy else "degraded", temporal=temporal, database=database
    )
