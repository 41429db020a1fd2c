"""Knowledge: files, collections (and pages), their documents and chunks, the full-text
index over chunks (FTS5 on SQLite, a GIN index of `to_tsvector` on PostgreSQL), the
collections an agent answers from, the citations stored with a message, and secrets.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.String(length=40)
WHEN = sa.DateTime(timezone=True)


def _account() -> sa.Column[str]:
    return sa.Column(
        "account_id", ID, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
    )


JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("agents") as agents:
        agents.add_column(sa.Column("knowledge_ids", JSON, nullable=False, server_default="[]"))
    with op.batch_alter_table("messages") as messages:
        messages.add_column(sa.Column("citations", JSON, nullable=True))
    op.create_table(
        "files",
        sa.Column("id", ID, primary_key=True),
        _account(),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_files_account_listing", "files", ["account_id", "created_at"])
    op.create_table(
        "collections",
        sa.Column("id", ID, primary_key=True),
        _account(),
        sa.Column(
            "parent_id", ID, sa.ForeignKey("collections.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_index("ix_collections_account_listing", "collections", ["account_id", "created_at"])
    op.create_table(
        "documents",
        sa.Column("id", ID, primary_key=True),
        _account(),
        sa.Column(
            "collection_id",
            ID,
            sa.ForeignKey("collections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("file_id", ID, sa.ForeignKey("files.id", ondelete="CASCADE"), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_documents_collection", "documents", ["collection_id", "created_at"])
    op.create_table(
        "chunks",
        sa.Column("id", ID, primary_key=True),
        _account(),
        sa.Column(
            "collection_id",
            ID,
            sa.ForeignKey("collections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "document_id", ID, sa.ForeignKey("documents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
    )
    op.create_index("ix_chunks_document", "chunks", ["document_id", "position"])
    op.create_index("ix_chunks_collection", "chunks", ["collection_id"])
    op.create_table(
        "secrets",
        sa.Column("id", ID, primary_key=True),
        _account(),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.UniqueConstraint("account_id", "name", name="uq_secrets_account_name"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE chunk_search USING fts5("
            "chunk_id UNINDEXED, collection_id UNINDEXED, text, tokenize='porter unicode61')"
        )
    else:
        op.execute("CREATE INDEX chunk_search ON chunks USING GIN (to_tsvector('english', text))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE chunk_search")
    else:
        op.execute("DROP INDEX chunk_search")
    for table in ("secrets", "chunks", "documents", "collections", "files"):
        op.drop_table(table)
    with op.batch_alter_table("messages") as messages:
        messages.drop_column("citations")
    with op.batch_alter_table("agents") as agents:
        agents.drop_column("knowledge_ids")
