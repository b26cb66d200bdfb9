"""Database URLs as users type them: PostgreSQL means psycopg 3, SQLite is left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderflow.store import make_engine
from orderflow.store.db import display_url, normalize_url


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("postgresql://u:pw@db:5432/shop", "postgresql+psycopg://u:pw@db:5432/shop"),
        ("postgres://u:pw@db/shop", "postgresql+psycopg://u:pw@db/shop"),
        ("postgresql+psycopg://u@db/shop", "postgresql+psycopg://u@db/shop"),
        ("postgresql+psycopg2://u@db/shop", "postgresql+psycopg2://u@db/shop"),
        ("postgres+psycopg://u@db/shop", "postgresql+psycopg://u@db/shop"),
        (
            "postgresql://u@db/shop?options=-csearch_path%3Dorders&sslmode=require",
            "postgresql+psycopg://u@db/shop?options=-csearch_path%3Dorders&sslmode=require",
        ),
        ("sqlite:////var/lib/orderflow/orderflow.db", "sqlite:////var/lib/orderflow/orderflow.db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_urls_are_read_as_users_mean_them(typed: str, meant: str) -> None:
    assert normalize_url(typed).render_as_string(hide_password=False) == meant


def test_display_url_masks_the_password() -> None:
    assert display_url("postgres://shop:s3cr3t@db/shop") == "postgresql+psycopg://shop:***@db/shop"
    assert display_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_make_engine_uses_psycopg_for_a_plain_postgresql_url() -> None:
    engine = make_engine("postgres://shop:s3cr3t@db.invalid/shop")  # nothing connects yet
    try:
        assert engine.dialect.name == "postgresql"
        assert engine.dialect.driver == "psycopg"
        assert engine.url.password == "s3cr3t"
    finally:
        engine.dispose()


def test_make_engine_on_sqlite_still_creates_the_directory(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/nested/dir/orderflow.db")
    try:
        assert engine.dialect.name == "sqlite"
        assert (tmp_path / "nested" / "dir").is_dir()
    finally:
        engine.dispose()
