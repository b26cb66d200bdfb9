"""Fixtures for the store and audit tests: a fresh database per test, SQLite and PostgreSQL.

SQLite always runs (a file under ``tmp_path``). PostgreSQL runs against the server at
``ORDERFLOW_TEST_POSTGRES_URL`` (default below): each test gets a PostgreSQL schema of its
own (``search_path`` set in the URL), created empty and dropped afterwards, so tests in
other processes sharing the database never see each other's tables. When the server
cannot be reached the PostgreSQL variants are skipped with the reason, unless
``ORDERFLOW_TEST_REQUIRE_POSTGRES=1`` (then they fail).

The schema itself comes from the migrations (``Store.create_schema`` runs them).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from orderflow.domain.catalog import CATALOG
from orderflow.store import Store, make_engine

POSTGRES_URL = os.environ.get(
    "ORDERFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("ORDERFLOW_TEST_REQUIRE_POSTGRES", "") not in ("", "0")
#: Prefix of this session's PostgreSQL schemas: unique per session, per test a counter.
SCHEMA_PREFIX = f"oftest_{uuid.uuid4().hex[:10]}"
_schema_numbers = count(1)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An engine on the test server's database, to create and drop per-test schemas."""
    engine = create_engine(POSTGRES_URL, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        engine.dispose()
        message = f"PostgreSQL not reachable at {POSTGRES_URL}: {exc.orig}"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    yield engine
    engine.dispose()


def url_with_search_path(url: str, schema: str) -> str:
    """``url`` with every connection's ``search_path`` set to ``schema`` (and only it)."""
    return (
        make_url(url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


@pytest.fixture
def new_postgres_url(postgres_admin: Engine) -> Iterator[Callable[[], str]]:
    """Make URLs to new, empty PostgreSQL schemas; all of them are dropped afterwards."""
    made: list[str] = []

    def make() -> str:
        schema = f"{SCHEMA_PREFIX}_{next(_schema_numbers)}"
        with postgres_admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        made.append(schema)
        return url_with_search_path(POSTGRES_URL, schema)

    yield make
    with postgres_admin.begin() as conn:
        for schema in made:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture
def postgres_url(new_postgres_url: Callable[[], str]) -> str:
    """A URL to an empty PostgreSQL schema that no other test uses."""
    return new_postgres_url()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty database that no other test uses."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/t.db"
    return str(request.getfixturevalue("postgres_url"))


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
    """A store with the migrated schema and the catalog (no stock on the shelf yet)."""
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
