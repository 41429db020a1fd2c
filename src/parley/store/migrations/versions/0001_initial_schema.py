"""Initial schema: accounts, API keys, agents, sessions, messages.

Revision ID: 0001
Revises:
Create Date: 2026-11-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types, so this revision never changes when models do.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.String(length=40)


def _timestamp(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("default_agent_id", ID, nullable=True),
        _timestamp("created_at"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "account_id", ID, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("key_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        _timestamp("created_at"),
        _timestamp("revoked_at", nullable=True),
    )
    op.create_table(
        "agents",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "account_id", ID, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("voice_id", sa.String(length=200), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("tools", JSON, nullable=False),
        sa.Column("max_turns", sa.Integer(), nullable=False),
        sa.Column("greeting", sa.Text(), nullable=True),
        sa.Column("keyterms", JSON, nullable=False),
        sa.Column("stt", JSON, nullable=True),
        sa.Column("llm", JSON, nullable=True),
        sa.Column("tts", JSON, nullable=True),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("vad", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("deleted_at", nullable=True),
    )
    op.create_index("ix_agents_account_listing", "agents", ["account_id", "status", "created_at"])
    op.create_table(
        "sessions",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "account_id", ID, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("agent_id", ID, sa.ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True, unique=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("initial_message", sa.Text(), nullable=True),
        sa.Column("start", JSON, nullable=True),
        sa.Column("dialect", sa.String(length=32), nullable=True),
        sa.Column("ephemeral", sa.Boolean(), nullable=False),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        _timestamp("joined_at", nullable=True),
        _timestamp("ended_at", nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
    )
    op.create_index("ix_sessions_account_listing", "sessions", ["account_id", "created_at"])
    op.create_index("ix_sessions_agent_status", "sessions", ["agent_id", "status"])
    op.create_index("ix_sessions_status_expires", "sessions", ["status", "expires_at"])
    op.create_index("ix_sessions_conversation", "sessions", ["conversation_id"])
    op.create_table(
        "messages",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "session_id", ID, sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=True),
        sa.Column("interrupted", sa.Boolean(), nullable=False),
        sa.Column("tool", JSON, nullable=True),
        sa.Column("metrics", JSON, nullable=True),
        _timestamp("created_at"),
        sa.UniqueConstraint("session_id", "seq", name="uq_messages_session_seq"),
    )
    op.create_index("ix_messages_conversation", "messages", ["conversation_id", "created_at"])


def downgrade() -> None:
    for table in ("messages", "sessions", "agents", "api_keys", "accounts"):
        op.drop_table(table)
