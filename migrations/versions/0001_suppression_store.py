"""The suppression store: suppressions, their change log, throttle decisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Types are spelled out here rather than imported from ``acctpipe.sqlstore``: a
migration must keep creating what it created the day it was written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REASONS = "'hard-bounce', 'soft-bounce-repeated', 'complaint', 'manual', 'unsubscribe'"


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the three tables and their indexes."""
    op.create_table(
        "suppressions",
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("scope", sa.String(320), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
        sa.Column("event_ids", _json(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("address", "scope", name="pk_suppressions"),
        sa.CheckConstraint(f"reason IN ({_REASONS})", name=op.f("ck_suppressions_reason")),
    )
    op.create_index("ix_suppressions_scope_address", "suppressions", ["scope", "address"])
    op.create_index("ix_suppressions_expires_at", "suppressions", ["expires_at"])

    op.create_table(
        "suppression_changes",
        sa.Column("cursor", _id(), sa.Identity(), nullable=False),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("scope", sa.String(320), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("event_ids", _json(), nullable=False),
        sa.Column("notify", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cursor", name="pk_suppression_changes"),
        sa.CheckConstraint(
            "op IN ('add', 'update', 'remove', 'expire')", name=op.f("ck_suppression_changes_op")
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_suppression_changes_address_scope", "suppression_changes", ["address", "scope"]
    )

    op.create_table(
        "throttle_decisions",
        sa.Column("id", _id(), sa.Identity(), nullable=False),
        sa.Column("queue", sa.String(255), nullable=False),
        sa.Column("vmta", sa.String(255), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("rate", sa.Float(), nullable=True),
        sa.Column("max_smtp_out", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evidence", _json(), nullable=False),
        sa.Column("event_ids", _json(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_throttle_decisions"),
        sa.CheckConstraint(
            "action IN ('slow', 'pause', 'ramp', 'normal')",
            name=op.f("ck_throttle_decisions_action"),
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_throttle_decisions_queue_vmta_decided_at",
        "throttle_decisions",
        ["queue", "vmta", "decided_at"],
    )
    op.create_index("ix_throttle_decisions_expires_at", "throttle_decisions", ["expires_at"])


def downgrade() -> None:
    """Drop what :func:`upgrade` created."""
    op.drop_table("throttle_decisions")
    op.drop_table("suppression_changes")
    op.drop_table("suppressions")
