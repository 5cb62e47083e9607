"""Each call keeps the answer of its last step, for Twilio's fallback URL to repeat.

Revision ID: 0006_last_answer
Revises: 0005_menu_version
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_last_answer"
down_revision = "0005_menu_version"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add calls.last_answer; calls from before it have none, and are answered as before."""
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("last_answer", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop calls.last_answer."""
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("last_answer")
