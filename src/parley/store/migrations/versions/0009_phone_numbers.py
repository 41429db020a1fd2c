"""Phone calls: the numbers that reach each agent, and an account's own Twilio credentials
(the auth token sealed).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.String(length=40)
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "phone_numbers",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "account_id", ID, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("number", sa.String(length=32), nullable=False, unique=True),
        sa.Column("agent_id", ID, sa.ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index(
        "ix_phone_numbers_account_listing", "phone_numbers", ["account_id", "created_at"]
    )
    op.create_table(
        "twilio_accounts",
        sa.Column(
            "account_id",
            ID,
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("account_sid", sa.String(length=64), nullable=False, unique=True),
        sa.Column("auth_token", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("twilio_accounts")
    op.drop_index("ix_phone_numbers_account_listing", table_name="phone_numbers")
    op.drop_table("phone_numbers")
