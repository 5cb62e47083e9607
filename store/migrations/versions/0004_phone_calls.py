"""The developer softphone's calls (IVR_SOFTPHONE): each simulated caller's state as JSON.

Revision ID: 0004_phone_calls
Revises: 0003_caller_guards
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_phone_calls"
down_revision = "0003_caller_guards"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the phone_calls table: a softphone call's caller state, by CallSid."""
    op.create_table(
        "phone_calls",
        sa.Column("call_sid", sa.String(64), primary_key=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop the phone_calls table."""
    op.drop_table("phone_calls")
