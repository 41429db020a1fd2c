"""Full-text search over chunks, in each backend's own engine: SQLite's FTS5 (BM25, the
Porter stemmer) and PostgreSQL's text search (`ts_rank_cd` over a stored, GIN-indexed
`to_tsvector('english', text)` column, `chunk_search_vector`).

A question is not a boolean query: its words are joined with OR, so a chunk that shares
the rarer words ranks first. The index is created by migrations 0005 and 0006 in SQL; the
models do not describe it (`is_search_index`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

INDEX = "chunk_search"
MAX_TERMS = 32
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def is_search_index(name: str | None) -> bool:
    return bool(name) and str(name).startswith(INDEX)


def terms(query: str) -> list[str]:
    """The query's distinct words, lower case, at most `MAX_TERMS`."""
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))[:MAX_TERMS]


async def add(db: AsyncSession, rows: Sequence[tuple[str, str, str]]) -> None:
    """Index (chunk id, collection id, text) rows (PostgreSQL indexes the table itself)."""
    if rows and db.get_bind().dialect.name == "sqlite":
        await db.execute(
            text("INSERT INTO chunk_search (chunk_id, collection_id, text) VALUES (:i, :c, :t)"),
            [{"i": i, "c": c, "t": t} for i, c, t in rows],
        )


async def remove(db: AsyncSession, chunk_ids: Sequence[str]) -> None:
    if chunk_ids and db.get_bind().dialect.name == "sqlite":
        statement = text("DELETE FROM chunk_search WHERE chunk_id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        )
        await db.execute(statement, {"ids": list(chunk_ids)})


async def ranked(
    db: AsyncSession, collection_ids: Sequence[str], query: str, limit: int
) -> list[tuple[str, float]]:
    """(chunk id, score) best first, among the given collections; higher is better."""
    words = terms(query)
    if not words or not collection_ids:
        return []
    if db.get_bind().dialect.name == "sqlite":
        statement = text(
            "SELECT chunk_id, -bm25(chunk_search) AS score FROM chunk_search "
            "WHERE chunk_search MATCH :q AND collection_id IN :ids "
            "ORDER BY bm25(chunk_search) LIMIT :n"
        )
        match = " OR ".join('"' + word.replace('"', "") + '"' for word in words)
    else:
        statement = text(
            "SELECT id, ts_rank_cd(chunk_search_vector, q) AS score "
            "FROM chunks, to_tsquery('english', :q) AS q "
            "WHERE collection_id IN :ids AND chunk_search_vector @@ q "
            "ORDER BY score DESC, id LIMIT :n"
        )
        match = " | ".join(words)
    statement = statement.bindparams(bindparam("ids", expanding=True))
    result = await db.execute(statement, {"q": match, "ids": list(collection_ids), "n": limit})
    return [(str(row[0]), float(row[1])) for row in result.all()]
