"""Fixtures for the store and audit tests: a fresh database per test, SQLite and PostgreSQL.

SQLite always runs (a file under ``tmp_path``). PostgreSQL runs when the ``psycopg`` driver
is importable and a server answers at ``ORDERFLOW_TEST_POSTGRES_URL`` (default below);
otherwise its parameter is skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import OperationalError

from orderflow.domain.catalog import CATALOG
from orderflow.store import Store, make_engine
from orderflow.store.tables import metadata

POSTGRES_URL = os.environ.get(
    "ORDERFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
HAVE_PSYCOPG = importlib.util.find_spec("psycopg") is not None


def _fresh_postgres(url: str) -> None:
    """Drop and recreate orderflow's tables, or skip when the server cannot be reached."""
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        try:
            with engine.connect():
                pass
        except OperationalError as exc:
            pytest.skip(f"PostgreSQL not reachable at {url}: {exc.orig}")
        metadata.drop_all(engine)
        metadata.create_all(engine)
    finally:
        engine.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=pytest.mark.skipif(
                not HAVE_PSYCOPG,
                reason="psycopg is not installed (orderflow does not depend on it yet); "
                "PostgreSQL store tests need `psycopg` and a server at " + POSTGRES_URL,
            ),
        ),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database that no other test uses."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/t.db"
        return
    _fresh_postgres(POSTGRES_URL)
    yield POSTGRES_URL


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """orderflow's engine for the test database, disposed afterwards."""
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def store(engine: Engine) -> Store:
    """A store with the schema and the catalog (no stock on the shelf yet)."""
    store = Store(engine)
    store.create_schema()
    store.seed_catalog(CATALOG)
    return store


@pytest.fixture
def new_order_id() -> Callable[[str], str]:
    """Make order ids no other test uses: ``new_order_id("paid")`` -> ``paid-1a2b3c4d5e6f``."""

    def make(label: str = "order") -> str:
        return f"{label}-{uuid.uuid4().hex[:12]}"

    return make
