"""``orderflow db``: the store's schema (Alembic migrations shipped with orderflow).

The database is ``--database-url``, else ``DATABASE_URL`` / ``ORDERFLOW_DATABASE_URL``, else
the SQLite file in the data directory. Workers also upgrade on start; ``db upgrade`` is for
migrating ahead of a deploy (or checking that it works) without starting one.
"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from orderflow.cli.common import settings_with

db_app = typer.Typer(
    help="Database schema: apply the migrations, show the revision in force.",
    no_args_is_help=True,
)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL (default: DATABASE_URL, else the SQLite file in the data "
        "directory); postgresql:// means psycopg 3.",
    ),
]


@db_app.command()
def upgrade(database_url: DatabaseUrl = None) -> None:
    """Apply every pending migration (safe to repeat) and print the revision in force."""
    from orderflow.store import make_engine, schema
    from orderflow.store.db import display_url

    url = settings_with(database_url=database_url).db_url
    engine = make_engine(url, pool_size=1)
    try:
        revision = schema.upgrade(engine)
    except (SQLAlchemyError, schema.SchemaError) as err:
        typer.echo(f"error: cannot upgrade {display_url(url)}: {err}", err=True)
        raise typer.Exit(1) from err
    finally:
        engine.dispose()
    typer.echo(f"{display_url(url)}: at revision {revision} (head)")


@db_app.command()
def current(database_url: DatabaseUrl = None) -> None:
    """Print the revision the database is at; exit status 1 if it is behind (or unmigrated)."""
    from orderflow.store import make_engine, schema
    from orderflow.store.db import display_url

    url = settings_with(database_url=database_url).db_url
    engine = make_engine(url, pool_size=1)
    try:
        revision = schema.current_revision(engine)
    except SQLAlchemyError as err:
        typer.echo(f"error: cannot read {display_url(url)}: {err}", err=True)
        raise typer.Exit(1) from err
    finally:
        engine.dispose()
    head = schema.head_revision()
    if revision is None:
        typer.echo(f"{display_url(url)}: not migrated (head is {head})")
    elif revision == head:
        typer.echo(f"{display_url(url)}: at revision {revision} (head)")
    else:
        typer.echo(f"{display_url(url)}: at revision {revision}; head is {head}")
    raise typer.Exit(0 if revision == head else 1)
