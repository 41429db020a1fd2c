"""Knowledge, semantic search and resumed ingestion: on PostgreSQL a stored `tsvector`
(`chunk_search_vector`, generated from the text) indexed in place of the expression, so
ranking reads it instead of re-parsing every matching passage (290 -> see
docs/benchmarks.md at 10k passages); a chunk's vector (float32 bytes) and
the embedding model that made it, a collection's revision (bumped whenever its passages
change, so a process's cache of vectors knows when it is stale), and the worker reading a
document (a document whose worker died is read again by another).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chunks") as chunks:
        chunks.add_column(sa.Column("vector", sa.LargeBinary(), nullable=True))
        chunks.add_column(sa.Column("vector_model", sa.String(length=200), nullable=True))
    with op.batch_alter_table("collections") as collections:
        collections.add_column(
            sa.Column("revision", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("documents") as documents:
        documents.add_column(sa.Column("worker_id", sa.String(length=40), nullable=True))
    op.create_index("ix_documents_unread", "documents", ["status", "worker_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE chunks ADD COLUMN chunk_search_vector tsvector "
            "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED"
        )
        op.execute("DROP INDEX chunk_search")
        op.execute("CREATE INDEX chunk_search ON chunks USING GIN (chunk_search_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX chunk_search")
        op.execute("ALTER TABLE chunks DROP COLUMN chunk_search_vector")
        op.execute("CREATE INDEX chunk_search ON chunks USING GIN (to_tsvector('english', text))")
    op.drop_index("ix_documents_unread", "documents")
    with op.batch_alter_table("documents") as documents:
        documents.drop_column("worker_id")
    with op.batch_alter_table("collections") as collections:
        collections.drop_column("revision")
    with op.batch_alter_table("chunks") as chunks:
        chunks.drop_column("vector_model")
        chunks.drop_column("vector")
