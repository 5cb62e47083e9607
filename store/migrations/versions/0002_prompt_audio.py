"""Prompt audio and the English line: a call's language, and its read-back audio rows.

Revision ID: 0002_prompt_audio
Revises: 0001_core
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_prompt_audio"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add calls.lang and the call_audio table."""
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("lang", sa.String(16), nullable=True))
    op.create_table(
        "call_audio",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_call_audio_call_sid", "call_audio", ["call_sid"])
    op.create_index("ix_call_audio_expires_at", "call_audio", ["expires_at"])


def downgrade() -> None:
    """Drop the call_audio table and calls.lang."""
    op.drop_index("ix_call_audio_expires_at", table_name="call_audio")
    op.drop_index("ix_call_audio_call_sid", table_name="call_audio")
    op.drop_table("call_audio")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("lang")
