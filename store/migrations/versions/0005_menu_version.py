"""Each call keeps the version of the menu it started in (serve --reload, restarts).

Revision ID: 0005_menu_version
Revises: 0004_phone_calls
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_menu_version"
down_revision = "0004_phone_calls"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add calls.menu_version and the menu_versions table of the files each version read;
    calls from before it go on in the menu being served."""
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("menu_version", sa.String(16), nullable=True))
    op.create_table(
        "menu_versions",
        sa.Column("version", sa.String(16), primary_key=True),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop the menu_versions table and calls.menu_version."""
    op.drop_table("menu_versions")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("menu_version")
