"""The database schema, managed by the Alembic migrations shipped in ``migrations/``.

``upgrade(engine)`` brings any supported database (SQLite, PostgreSQL) to the newest
revision; ``orderflow db upgrade`` and every start of a worker run it. It needs no
``alembic.ini``: the configuration is built here, and the migrations run on a connection
opened here, in one transaction:

- the whole upgrade commits or rolls back as one (PostgreSQL has transactional DDL; on
  SQLite the transaction is the store's ``BEGIN IMMEDIATE``, which also makes concurrent
  upgrades queue);
- on PostgreSQL a transaction-scoped advisory lock (per schema) serialises workers that
  start together, so the second one finds the schema at head and does nothing;
- within one process a lock serialises upgrades too: Alembic's ``context`` and ``op`` are
  process-wide, so two threads must never run migrations at the same time (even on
  different databases). It is taken before the database's lock, never while holding it.

Databases created before migrations existed (by ``metadata.create_all``) have all the
tables of revision ``0001`` but no ``alembic_version`` table. ``upgrade`` recognises them,
stamps them with that baseline revision (they match it exactly) and then applies any later
revisions. A database holding only some of those tables is refused rather than guessed at.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
#: The revision that creates the schema ``metadata.create_all`` used to create.
BASELINE = "0001"
BASELINE_TABLES = frozenset(
    {"products", "stock", "orders", "reservations", "payments", "shipments"}
)
#: The PostgreSQL advisory lock held while migrating: (PG_LOCK_CLASS, hashtext(schema)).
PG_LOCK_CLASS = 0x6F666D67  # "ofmg"
_PG_LOCK = text("SELECT pg_advisory_xact_lock(:cls, hashtext(coalesce(current_schema(), '')))")
_in_process = threading.Lock()


class SchemaError(RuntimeError):
    """The database holds something ``upgrade`` cannot safely migrate."""


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for orderflow's migrations, optionally bound to ``connection``."""
    config = Config()
    # Config options go through ConfigParser interpolation: a literal % must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of orderflow."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise SchemaError(f"no migrations found in {MIGRATIONS}")
    return head


def upgrade(engine: Engine) -> str:
    """Apply every pending migration (a no-op at head); return the revision now in force."""
    with _in_process, engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(_PG_LOCK, {"cls": PG_LOCK_CLASS})
        config = alembic_config(conn)
        if _created_without_migrations(conn):
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")
        revision = _revision(conn)
    if revision is None:  # pragma: no cover - upgrade to head always records one
        raise SchemaError("the upgrade recorded no revision")
    return revision


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a database never migrated (or stamped)."""
    with engine.connect() as conn:
        return _revision(conn)


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _created_without_migrations(conn: Connection) -> bool:
    """True for a database built by ``metadata.create_all``: the tables, no version table."""
    tables = set(inspect(conn).get_table_names())
    if VERSION_TABLE in tables:
        return False
    present = tables & BASELINE_TABLES
    if not present:
        return False
    if present != BASELINE_TABLES:
        missing = ", ".join(sorted(BASELINE_TABLES - present))
        raise SchemaError(
            "the database has some of orderflow's tables but no migration history "
            f"(missing: {missing}); refusing to guess its revision"
        )
    return True
