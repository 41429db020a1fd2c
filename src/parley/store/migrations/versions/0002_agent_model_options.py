"""Agents: max_tokens and a custom language model endpoint.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("agents") as agents:
        agents.add_column(sa.Column("max_tokens", sa.Integer(), nullable=True))
        agents.add_column(sa.Column("llm_endpoint", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agents") as agents:
        agents.drop_column("llm_endpoint")
        agents.drop_column("max_tokens")
