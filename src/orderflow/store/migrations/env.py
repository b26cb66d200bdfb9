"""Alembic environment for orderflow's store, configured from code (no alembic.ini).

``orderflow.store.schema`` runs the migrations on a connection it opened itself and hands
it over in ``config.attributes["connection"]``, already inside a transaction (so the whole
upgrade commits or rolls back as one, on SQLite too). SQLite cannot ALTER most things in
place, hence ``render_as_batch`` there (copy-and-move table rebuilds).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from orderflow.store.tables import metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    if context.is_offline_mode():
        raise RuntimeError("orderflow's migrations run online only (no --sql mode)")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    # Run by the plain `alembic` command: use the URL it was given, else orderflow's own.
    from orderflow.config import Settings
    from orderflow.store.db import make_engine

    url = context.config.get_main_option("sqlalchemy.url") or Settings().db_url
    engine = make_engine(url, pool_size=1)
    try:
        with engine.begin() as conn:
            run_migrations(conn)
    finally:
        engine.dispose()


main()
