"""Engine construction. Nothing connects at import time (the workflow sandbox relies on it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event
from sqlalchemy.engine import make_url

#: The driver for PostgreSQL URLs that name none (psycopg 3).
POSTGRES_DRIVER = "psycopg"


def normalize_url(url: str | URL) -> URL:
    """Parse ``url``, reading PostgreSQL URLs as users write them.

    ``postgresql://`` and ``postgres://`` (Heroku-style, no longer accepted by SQLAlchemy)
    mean psycopg 3: ``postgresql+psycopg://``. A URL that names its driver keeps it.
    """
    parsed = make_url(url)
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgres", "postgresql"):
        return parsed.set(drivername=f"postgresql+{driver or POSTGRES_DRIVER}")
    return parsed


def display_url(url: str | URL) -> str:
    """``url`` fit to print: the password (if any) masked."""
    return normalize_url(url).render_as_string(hide_password=True)


def make_engine(url: str | URL, *, pool_size: int = 10) -> Engine:
    """Build an engine for ``url``; SQLite files get their directory, WAL and write locks.

    PostgreSQL URLs without a driver use psycopg 3 (see ``normalize_url``).

    SQLite serialises writers. Each write transaction starts with ``BEGIN IMMEDIATE`` so
    two concurrent transactions never both read and then fail to upgrade their lock
    (SQLAlchemy's documented recipe); a busy timeout makes writers queue instead of fail.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(
            parsed, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed,
        connect_args={"timeout": 60, "check_same_thread": False},
        pool_size=pool_size,
        max_overflow=pool_size,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
