"""The operator console's read model: each order's current state, kept by the activities.

- ``orders``: the customer, the current state and step, when it last changed, the error
  type of a failure, and the review deadline; indexed for the console's filters (state,
  newest first, customer).
- ``reconcile_runs``: each reconciliation pass (when, how many orders, the drift found).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("customer_id", sa.String(200), nullable=True))
        batch.add_column(sa.Column("state", sa.String(32), nullable=True))
        batch.add_column(sa.Column("step", sa.String(64), nullable=True))
        batch.add_column(sa.Column("error_type", sa.String(64), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("orders_by_state", "orders", ["state", "created_at"])
    op.create_index("orders_by_created", "orders", ["created_at"])
    op.create_index("orders_by_customer", "orders", ["customer_id", "created_at"])
    op.create_index("orders_by_finished", "orders", ["finished_at"])
    op.create_table(
        "reconcile_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("orders_checked", sa.Integer(), nullable=False),
        sa.Column("drift", sa.Integer(), nullable=False),
        sa.Column("repaired", sa.Integer(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
    )
    op.create_index("payments_by_created", "payments", ["created_at"])


def downgrade() -> None:
    op.drop_index("payments_by_created", "payments")
    op.drop_table("reconcile_runs")
    op.drop_index("orders_by_finished", "orders")
    op.drop_index("orders_by_customer", "orders")
    op.drop_index("orders_by_created", "orders")
    op.drop_index("orders_by_state", "orders")
    with op.batch_alter_table("orders") as batch:
        for column in ("due_at", "updated_at", "error_type", "step", "state", "customer_id"):
            batch.drop_column(column)
