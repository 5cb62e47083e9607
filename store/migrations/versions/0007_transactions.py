"""账户明细: the movements of each 医保个人账户, with the relative a 家庭共济 payment was for.

Revision ID: 0007_transactions
Revises: 0006_last_answer
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_transactions"
down_revision = "0006_last_answer"
branch_labels = None
depends_on = None

FAMILY_ONLY = sa.text("beneficiary_id IS NOT NULL")


def upgrade() -> None:
    """Add the transactions table and the two indexes the statement reads through."""
    op.create_table(
        "transactions",
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("persons.id"), nullable=False),
        sa.Column("ref", sa.String(32), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("beneficiary_id", sa.Integer(), sa.ForeignKey("persons.id"), nullable=True),
        sa.PrimaryKeyConstraint("person_id", "ref"),
    )
    op.create_index("ix_transactions_person_booked", "transactions", ["person_id", "booked_on"])
    op.create_index("ix_transactions_beneficiary_booked", "transactions",
                    ["beneficiary_id", "booked_on"], sqlite_where=FAMILY_ONLY,
                    postgresql_where=FAMILY_ONLY)  # fmt: skip


def downgrade() -> None:
    """Drop the transactions table."""
    op.drop_index("ix_transactions_beneficiary_booked", table_name="transactions")
    op.drop_index("ix_transactions_person_booked", table_name="transactions")
    op.drop_table("transactions")
