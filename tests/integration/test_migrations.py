"""The Alembic migrations on SQLite and PostgreSQL: create, repeat, adopt, match the metadata."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select, text
from typer.testing import CliRunner

from orderflow.cli.db import db_app
from orderflow.config import Settings
from orderflow.domain.catalog import CATALOG
from orderflow.store import Store, make_engine, schema
from orderflow.store.tables import metadata, orders, payments, products, stock

from .conftest import url_with_search_path

OUR_TABLES = set(metadata.tables)
KINDS = ["sqlite", "postgresql"]


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def differences(engine: Engine) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match ``metadata``."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def fill(engine: Engine) -> None:
    """Some rows in every kind of table: catalog, stock, one charge — written as the
    oldest schema (revision 0001) has them, so it works on a database of any revision."""
    store = Store(engine)
    store.seed_catalog(CATALOG)
    store.restock("MUG-LOGO", 7)
    with engine.begin() as conn:
        conn.execute(orders.insert().values(order_id="kept-1"))
        conn.execute(
            payments.insert().values(
                order_id="kept-1",
                kind="charge",
                amount=Decimal("12.34"),
                idempotency_key="kept-1:charge",
                reference="ch_kept",
            )
        )


def assert_filled(engine: Engine) -> None:
    with engine.connect() as conn:
        assert len(conn.scalars(select(products.c.sku)).all()) == len(CATALOG)
        assert conn.scalar(select(func.sum(stock.c.available))) == 7
        rows = conn.execute(select(payments.c.order_id, payments.c.amount)).tuples().all()
        assert list(rows) == [("kept-1", Decimal("12.34"))]


def fresh_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest, name: str) -> str:
    """Another empty database of ``kind`` for this test."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/{name}.db"
    make: Callable[[], str] = request.getfixturevalue("new_postgres_url")
    return make()


def snapshot(engine: Engine) -> dict[str, dict[str, Any]]:
    """Everything the database says about orderflow's tables, in comparable form."""
    insp = inspect(engine)
    result: dict[str, dict[str, Any]] = {}
    for table in sorted(OUR_TABLES):
        pk = insp.get_pk_constraint(table)
        result[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in insp.get_columns(table)
            ],
            "primary_key": (pk.get("name"), tuple(pk["constrained_columns"])),
            "foreign_keys": sorted(
                (
                    str(fk.get("name")),
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                )
                for fk in insp.get_foreign_keys(table)
            ),
            "unique": sorted(
                (str(u.get("name")), tuple(u["column_names"]))
                for u in insp.get_unique_constraints(table)
            ),
            "checks": sorted(
                (str(c.get("name")), " ".join(str(c["sqltext"]).split()))
                for c in insp.get_check_constraints(table)
            ),
            "indexes": sorted(
                (str(i.get("name")), tuple(str(col) for col in i["column_names"]), i["unique"])
                for i in insp.get_indexes(table)
            ),
        }
    return result


# -- a new database -------------------------------------------------------------------------


def test_upgrade_creates_every_table_and_records_the_head_revision(engine: Engine) -> None:
    assert schema.current_revision(engine) is None

    revision = schema.upgrade(engine)

    assert revision == schema.head_revision() == "0005"
    assert schema.current_revision(engine) == revision
    assert tables(engine) == OUR_TABLES | {"alembic_version"}


def test_a_second_upgrade_is_a_no_op_and_keeps_the_data(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="alembic")
    first = schema.upgrade(engine)
    assert any("Running upgrade" in r.getMessage() for r in caplog.records)
    fill(engine)
    caplog.clear()

    second = schema.upgrade(engine)

    assert second == first
    assert not [r.getMessage() for r in caplog.records if "Running" in r.getMessage()]
    assert_filled(engine)


def test_the_migrated_schema_matches_the_metadata(engine: Engine) -> None:
    schema.upgrade(engine)

    assert differences(engine) == []


def test_the_store_works_on_a_migrated_database(engine: Engine) -> None:
    schema.upgrade(engine)

    fill(engine)

    assert_filled(engine)


def test_store_create_schema_runs_the_migrations(engine: Engine) -> None:
    Store(engine).create_schema()

    assert schema.current_revision(engine) == schema.head_revision()


def test_downgrade_to_base_drops_everything_and_upgrade_rebuilds_it(engine: Engine) -> None:
    schema.upgrade(engine)

    with engine.begin() as conn:
        command.downgrade(schema.alembic_config(conn), "base")
    assert tables(engine) <= {"alembic_version"}
    assert schema.current_revision(engine) is None

    assert schema.upgrade(engine) == schema.head_revision()
    assert differences(engine) == []


def test_upgrades_started_together_all_succeed_once(database_url: str) -> None:
    """Several workers starting at once: one migrates, the others find it done."""
    engines = [make_engine(database_url, pool_size=1) for _ in range(4)]
    start = threading.Barrier(len(engines))

    def upgrade(engine: Engine) -> str:
        start.wait(timeout=30)
        return schema.upgrade(engine)

    try:
        with ThreadPoolExecutor(max_workers=len(engines)) as pool:
            revisions = list(pool.map(upgrade, engines))
        assert revisions == [schema.head_revision()] * len(engines)
        assert differences(engines[0]) == []
    finally:
        for engine in engines:
            engine.dispose()


UPGRADE_IN_A_PROCESS = """
import sys
from orderflow.store import make_engine, schema
print(schema.upgrade(make_engine(sys.argv[1], pool_size=1)))
"""


def test_upgrades_from_processes_started_together_queue_on_postgresql(postgres_url: str) -> None:
    """Workers in several processes start at once: they queue on the advisory lock, one
    migrates, the others find the schema at head."""
    engine = make_engine(postgres_url, pool_size=1)
    key = {"cls": schema.PG_LOCK_CLASS}
    waiting = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND classid = CAST(:cls AS oid) AND objid = CAST(hashtext(current_schema()) AS oid)"
        " AND objsubid = 2"
    )
    procs: list[subprocess.Popen[str]] = []
    try:
        with engine.connect() as holder:
            holder.execute(text("SELECT pg_advisory_lock(:cls, hashtext(current_schema()))"), key)
            holder.commit()
            procs = [
                subprocess.Popen(
                    [sys.executable, "-c", UPGRADE_IN_A_PROCESS, postgres_url],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(3)
            ]
            deadline = time.monotonic() + 60
            with engine.connect() as probe:
                while probe.scalar(waiting, key) != len(procs):
                    assert time.monotonic() < deadline, "the upgrades never queued on the lock"
                    assert all(p.poll() is None for p in procs), "an upgrade did not wait"
                    probe.rollback()
                    time.sleep(0.1)
            holder.execute(text("SELECT pg_advisory_unlock(:cls, hashtext(current_schema()))"), key)
            holder.commit()
        outcomes = [p.communicate(timeout=60) for p in procs]
        assert [p.returncode for p in procs] == [0] * len(procs), outcomes
        assert [out.strip() for out, _ in outcomes] == [schema.head_revision()] * len(procs)
        assert differences(engine) == []
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        engine.dispose()


# -- a database made before migrations existed ----------------------------------------------


def create_pre_migration_schema(engine: Engine) -> None:
    """The tables as create_all built them before migrations existed (revision 0001's shape)."""
    with engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), "0001")
        conn.execute(text("DROP TABLE alembic_version"))


def test_a_database_created_by_create_all_is_stamped_and_keeps_its_data(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    create_pre_migration_schema(engine)
    fill(engine)
    assert schema.current_revision(engine) is None
    caplog.set_level(logging.INFO, logger="alembic")

    revision = schema.upgrade(engine)

    assert revision == schema.head_revision()
    assert schema.current_revision(engine) == revision
    assert any("Running stamp_revision" in r.getMessage() for r in caplog.records)
    assert_filled(engine)
    assert differences(engine) == []
    assert schema.upgrade(engine) == revision


def test_a_database_with_only_some_of_the_tables_is_refused(engine: Engine) -> None:
    metadata.create_all(engine, tables=[products, stock])

    with pytest.raises(schema.SchemaError, match="missing: orders, payments"):
        schema.upgrade(engine)

    assert tables(engine) == {"products", "stock"}
    assert schema.current_revision(engine) is None


@pytest.mark.parametrize("kind", KINDS)
def test_create_all_and_the_migrations_build_the_same_schema(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Names, types, keys, checks, defaults and indexes: the baseline is what create_all made."""
    legacy = make_engine(fresh_url(kind, tmp_path, request, "legacy"))
    migrated = make_engine(fresh_url(kind, tmp_path, request, "migrated"))
    try:
        metadata.create_all(legacy)
        schema.upgrade(migrated)

        expected = snapshot(legacy)
        assert snapshot(migrated) == expected
        assert expected["stock"]["checks"] == [("stock_available_not_negative", "available >= 0")]
        assert ("ix_payments_order_id", ("order_id",), False) in expected["payments"]["indexes"]
    finally:
        legacy.dispose()
        migrated.dispose()


# -- the worker and the CLI -----------------------------------------------------------------


def test_build_store_migrates_and_seeds_a_plain_postgresql_url(postgres_url: str) -> None:
    from orderflow.bootstrap import build_store

    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    assert plain.startswith("postgresql://")
    settings = Settings().model_copy(update={"database_url": plain})

    store = build_store(settings)
    try:
        assert store.engine.dialect.driver == "psycopg"
        assert schema.current_revision(store.engine) == schema.head_revision()
        assert set(store.catalog()) == {product.sku for product in CATALOG}
        again = build_store(settings)  # a restart: nothing to migrate, nothing to seed
        again.engine.dispose()
    finally:
        store.engine.dispose()


def test_cli_db_upgrade_and_current_on_postgresql_mask_the_password(
    new_postgres_url: Callable[[], str],
) -> None:
    url = new_postgres_url()
    search_path = url.split("?", 1)[1]
    # Trust authentication ignores the password; it is there to be masked.
    secret_url = f"postgres://postgres:s3cr3t@127.0.0.1:5432/test?{search_path}"
    runner = CliRunner()

    before = runner.invoke(db_app, ["current", "--database-url", secret_url])
    upgraded = runner.invoke(db_app, ["upgrade", "--database-url", secret_url])
    again = runner.invoke(db_app, ["upgrade", "--database-url", secret_url])
    after = runner.invoke(db_app, ["current", "--database-url", secret_url])

    assert before.exit_code == 1, before.output
    assert "not migrated" in before.output
    assert upgraded.exit_code == 0, upgraded.output
    assert again.exit_code == 0, again.output
    assert after.exit_code == 0, after.output
    assert "at revision 0005 (head)" in upgraded.output
    assert again.output == upgraded.output
    assert "at revision 0005 (head)" in after.output
    for result in (before, upgraded, again, after):
        assert "s3cr3t" not in result.output
        assert "postgresql+psycopg://postgres:***@127.0.0.1:5432/test" in result.output


def test_cli_db_upgrade_on_the_default_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("ORDERFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("ORDERFLOW_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    upgraded = runner.invoke(db_app, ["upgrade"])
    current = runner.invoke(db_app, ["current"])

    assert upgraded.exit_code == 0, upgraded.output
    assert current.exit_code == 0, current.output
    db_file = (tmp_path / "data" / "orderflow.db").resolve()
    assert f"sqlite:///{db_file}: at revision 0005 (head)" in upgraded.output
    assert db_file.exists()


def test_cli_db_upgrade_reports_an_unreachable_database(tmp_path: Path) -> None:
    url = url_with_search_path("postgresql://postgres:pw@127.0.0.1:1/test", "nowhere")

    result = CliRunner().invoke(db_app, ["upgrade", "--database-url", url])

    assert result.exit_code == 1
    assert "error: cannot upgrade postgresql+psycopg://postgres:***@127.0.0.1:1/test" in (
        result.output
    )
    assert "pw@" not in result.output
