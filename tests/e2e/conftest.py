"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.e2e.cli import Shop, stocked


@pytest.fixture
async def shop(temporal_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Shop]:
    """A fresh data directory and task queue on the session's server, stock on the shelf."""
    shop = Shop(
        data_dir=tmp_path / "data",
        temporal_address=temporal_env.client.service_client.config.target_host,
        task_queue=f"cli-{uuid.uuid4().hex[:8]}",
    )
    stocked(shop.store()).engine.dispose()
    yield shop
