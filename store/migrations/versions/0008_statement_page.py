"""Each call remembers the statement page its caller last heard, for 下一页 and 重听.

Revision ID: 0008_statement_page
Revises: 0007_transactions
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_statement_page"
down_revision = "0007_transactions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add calls.page; calls from before it are on the first page, which is where they start."""
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("page", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    """Drop calls.page."""
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("page")
