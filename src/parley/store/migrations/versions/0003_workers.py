"""Workers (the server processes holding live sessions) and which one holds each session.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.String(length=40)


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", ID, primary_key=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("sessions") as sessions:
        sessions.add_column(sa.Column("worker_id", ID, nullable=True))
        sessions.create_index("ix_sessions_status_worker", ["status", "worker_id"])


def downgrade() -> None:
    with op.batch_alter_table("sessions") as sessions:
        sessions.drop_index("ix_sessions_status_worker")
        sessions.drop_column("worker_id")
    op.drop_table("workers")
