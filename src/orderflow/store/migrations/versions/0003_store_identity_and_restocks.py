"""The store's identity and idempotent restocks.

- ``store_meta``: key/value facts about this database; ``store_id`` names it, so a worker
  and a client that use two different databases notice (an order carries its client's
  store id and the worker refuses an order meant for another store).
- ``restocks``: one row per idempotency key of a restock, so a retried restock adds its
  units once.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )
    op.create_table(
        "restocks",
        sa.Column("idempotency_key", sa.String(128), primary_key=True),
        sa.Column("warehouse", sa.String(32), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("restocks")
    op.drop_table("store_meta")
