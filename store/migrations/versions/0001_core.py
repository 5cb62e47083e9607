"""The core hotline: persons, 家庭共济 bindings, lock-out guards, call state and events.

This is the schema that builds before migrations existed created; `db upgrade` adopts
such a database by stamping it with the revision it matches.

Revision ID: 0001_core
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

FALSE = sa.text("false")


def upgrade() -> None:
    """Create the core tables."""
    _create_people()
    op.create_table(
        "probe_guards",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("failed_pins", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("locked", sa.Boolean(), nullable=False, server_default=FALSE),
    )
    op.create_table(
        "hotline_secrets",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.String(128), nullable=False),
    )
    _create_calls()


def _create_people() -> None:
    """The insured persons and their 家庭共济 bindings."""
    op.create_table(
        "persons",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("id_number", sa.String(18), nullable=False, unique=True),
        sa.Column("card_number", sa.String(9), nullable=False, unique=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("pin_hash", sa.String(256), nullable=False),
        sa.Column("insured_region", sa.String(6), nullable=False),
        sa.Column("scheme", sa.String(16), nullable=False),
        sa.Column("insured_status", sa.String(16), nullable=False),
        sa.Column("balance_fen", sa.BigInteger(), nullable=False),
        sa.Column("balance_as_of", sa.Date(), nullable=False),
        sa.Column("failed_pins", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("locked", sa.Boolean(), nullable=False, server_default=FALSE),
    )
    op.create_table(
        "bindings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("payer_id", sa.Integer(), sa.ForeignKey("persons.id"), nullable=False),
        sa.Column("beneficiary_id", sa.Integer(), sa.ForeignKey("persons.id"), nullable=False),
        sa.Column("relation", sa.String(32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("bound_on", sa.Date(), nullable=False),
        sa.UniqueConstraint("payer_id", "beneficiary_id"),
    )
    revoked = sa.text("status != 'revoked'")
    op.create_index("uq_bindings_rank", "bindings", ["beneficiary_id", "priority"], unique=True,
                    sqlite_where=revoked, postgresql_where=revoked)  # fmt: skip


def _create_calls() -> None:
    """The call state and the call-event log."""
    op.create_table(
        "calls",
        sa.Column("call_sid", sa.String(64), primary_key=True),
        sa.Column("from_number", sa.String(32), nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("no_input", sa.Integer(), nullable=False),
        sa.Column("invalid", sa.Integer(), nullable=False),
        sa.Column("auth_failures", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("persons.id"), nullable=True),
        sa.Column("probe", sa.String(64), nullable=True),
        sa.Column("identified", sa.Boolean(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("after_auth", sa.String(64), nullable=True),
        sa.Column("menu", sa.String(64), nullable=True),
        sa.Column("ended", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "call_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("input_masked", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_call_events_call_sid", "call_events", ["call_sid"])


def downgrade() -> None:
    """Drop every core table."""
    op.drop_index("ix_call_events_call_sid", table_name="call_events")
    for table in ("call_events", "calls", "hotline_secrets", "probe_guards"):
        op.drop_table(table)
    op.drop_index("uq_bindings_rank", table_name="bindings")
    op.drop_table("bindings")
    op.drop_table("persons")
