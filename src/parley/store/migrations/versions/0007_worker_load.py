"""Admission control across processes: each worker's load at its last beat (live sessions,
and whether it was refusing new calls), so REST can tell a full deployment (503) from one
full process (whose load balancer should send the call elsewhere).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workers") as workers:
        workers.add_column(sa.Column("sessions", sa.Integer(), nullable=False, server_default="0"))
        workers.add_column(
            sa.Column("full", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("workers") as workers:
        workers.drop_column("full")
        workers.drop_column("sessions")
