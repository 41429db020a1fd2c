"""Calls: each agent's lifecycle options and recording flag, each session's summaries and
whether it was recorded, and each message's medium (voice or text).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("agents") as agents:
        agents.add_column(sa.Column("lifecycle", JSON, nullable=False, server_default="{}"))
        agents.add_column(
            sa.Column("record", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("sessions") as sessions:
        sessions.add_column(sa.Column("short_summary", sa.Text(), nullable=True))
        sessions.add_column(sa.Column("summary", sa.Text(), nullable=True))
        sessions.add_column(
            sa.Column("recording", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        sessions.create_index(
            "ix_sessions_account_dialect", ["account_id", "dialect", "created_at"]
        )
    with op.batch_alter_table("messages") as messages:
        messages.add_column(
            sa.Column("medium", sa.String(length=8), nullable=False, server_default="voice")
        )


def downgrade() -> None:
    with op.batch_alter_table("agents") as agents:
        agents.drop_column("record")
        agents.drop_column("lifecycle")
    with op.batch_alter_table("messages") as messages:
        messages.drop_column("medium")
    with op.batch_alter_table("sessions") as sessions:
        sessions.drop_index("ix_sessions_account_dialect")
        sessions.drop_column("recording")
        sessions.drop_column("summary")
        sessions.drop_column("short_summary")
