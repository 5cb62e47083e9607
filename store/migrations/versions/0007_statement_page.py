"""Each call remembers the statement page its caller last heard, for 下一页 and 重听.

Revision ID: 0007_statement_page
Revises: 0006_last_answer
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_statement_page"
down_revision = "0006_last_answer"
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
