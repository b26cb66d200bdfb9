"""Payments as shops take them: authorizations (holds), captures, voids and refunds; returns.

- ``payments``: ``kind`` now also ``authorize``, ``capture`` and ``void`` (``charge`` stays
  for orders taken the old way); ``authorization_ref`` links a capture or a void to its
  hold; ``expires_at`` is when a hold lapses; ``note`` says why a refund was made after
  delivery (empty for the saga's own).
- ``returns``: one row per refund or customer return after delivery: its kind, lines,
  status, window and amount.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("authorization_ref", sa.String(64), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("note", sa.String(500), nullable=True))
    op.create_index("payments_by_authorization", "payments", ["authorization_ref"])
    op.create_table(
        "returns",
        sa.Column("return_id", sa.String(64), primary_key=True),
        sa.Column("order_id", sa.String(64), sa.ForeignKey("orders.order_id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("returns_by_order", "returns", ["order_id"])


def downgrade() -> None:
    op.drop_index("returns_by_order", "returns")
    op.drop_table("returns")
    op.drop_index("payments_by_authorization", "payments")
    with op.batch_alter_table("payments") as batch:
        for column in ("note", "expires_at", "authorization_ref"):
            batch.drop_column(column)
