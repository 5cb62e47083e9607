"""Per-caller-number throttling of wrong PINs (IVR_CALLER_PIN_LIMIT).

Revision ID: 0003_caller_guards
Revises: 0002_prompt_audio
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_caller_guards"
down_revision = "0002_prompt_audio"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the caller_guards table: wrong PINs per caller number (an HMAC) per window."""
    op.create_table(
        "caller_guards",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("failed_pins", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )


def downgrade() -> None:
    """Drop the caller_guards table."""
    op.drop_table("caller_guards")
