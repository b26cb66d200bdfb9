"""The console's reads over a store filled with many orders: filters, search, the queue of
what needs a person, and the money check."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from orderflow.app.views import PAGE_SIZE, Views
from orderflow.bootstrap import build_store
from orderflow.config import Settings
from orderflow.lab.bench.scale import fill
from orderflow.store import Store
from orderflow.store.tables import orders

N = 2_000


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = build_store(Settings(data_dir=Path(tmp_path_factory.mktemp("views"))))
    fill(store, N, seed=3)
    return store


def count(store: Store, *where: object) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(orders).where(*where)) or 0)


def test_pages_are_newest_first_and_cover_every_order_once(filled: Store) -> None:
    views = Views(filled)
    first = views.orders()
    assert first.matching == N and first.pages == -(-N // PAGE_SIZE)
    seen = []
    for page in range(1, first.pages + 1):
        seen += [row.order_id for row in views.orders(page=page).rows]
    assert len(seen) == len(set(seen)) == N
    created = [row.created_at for row in views.orders().rows]
    assert created == sorted(created, reverse=True)


def test_the_state_filter_and_the_search(filled: Store) -> None:
    views = Views(filled)
    failed = views.orders(state="FAILED")
    assert failed.matching == count(filled, orders.c.state == "FAILED") > 0
    assert {row.state for row in failed.rows} == {"FAILED"}
    # An order-id prefix: scale-00000010 .. scale-00000019.
    assert sorted(r.order_id for r in views.orders(search="scale-0000001").rows) == [
        f"scale-{n:08d}" for n in range(10, 20)
    ]
    customer = views.orders().rows[0].customer_id
    mine = views.orders(search=customer)
    assert mine.matching == count(filled, orders.c.customer_id == customer)
    assert {row.customer_id for row in mine.rows} == {customer}
    assert views.orders(search="%").matching == 0  # no wildcard: ids are matched literally
    assert views.orders(search="nobody").matching == 0


def test_the_queue_holds_parked_waiting_and_stuck_orders(filled: Store) -> None:
    views = Views(filled)
    queue = views.human_queue(limit=10_000)
    assert len(queue.needs_attention) == count(filled, orders.c.state == "NEEDS_ATTENTION")
    assert len(queue.awaiting_review) == count(filled, orders.c.state == "AWAITING_REVIEW")
    assert all(row.due_at is not None for row in queue.awaiting_review)
    assert {row.state for row in queue.stuck} <= {"PAID", "RESERVED"}
    # An order that just moved is not stuck.
    fresh = queue.stuck[0].order_id
    with filled.engine.begin() as conn:
        conn.execute(
            update(orders)
            .where(orders.c.order_id == fresh)
            .values(updated_at=datetime.now(timezone.utc))
        )
    assert fresh not in {row.order_id for row in views.human_queue(limit=10_000).stuck}


def test_the_overview_counts_every_state_and_the_ledger_reconciles(filled: Store) -> None:
    views = Views(filled)
    overview = views.overview()
    assert overview.total_orders == N
    assert overview.needs_attention == count(filled, orders.c.state == "NEEDS_ATTENTION")
    assert len(overview.minutes) == 60
    ledger = views.ledger()
    assert ledger.reconciles
    assert ledger.net == ledger.completed + ledger.in_flight > Decimal("0")
    assert sum(charged - refunded for _, charged, refunded in ledger.by_day) == ledger.net
    # A charge nobody can account for breaks the check.
    filled.charge("scale-00000000", Decimal("1.00"), "stray-charge")
    assert not views.ledger().reconciles
    assert views.overview(now=datetime.now(timezone.utc) + timedelta(hours=2)).last_hour == {}
