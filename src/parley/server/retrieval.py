"""Finding the passages that answer a question: full text (BM25) always, and, when an
embedding provider is configured, semantic similarity too, fused by rank (RRF).

Each ranking draws `POOL` candidates; the fused list is cut to `top_k`. The question is
embedded with a short timeout while the full-text search runs, and a provider that fails
or is slow costs the caller nothing but the semantic half: the answer falls back to BM25
and the failure is logged and counted (`parley_knowledge_semantic_failures_total`).

Vectors are read per collection into `VectorCache` and reused until the collection's
revision moves (any process's change to its passages bumps it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from parley.knowledge.fusion import fuse
from parley.knowledge.vectors import Shelf, VectorCache, nearest
from parley.providers.base import ProviderError, TextEmbedder
from parley.server import metrics
from parley.store.knowledge import Hit, Knowledge

log = logging.getLogger("parley.server")

POOL = 40  # candidates from each ranking before fusion
QUERY_EMBED_TIMEOUT_S = 3.0


class Retriever:
    def __init__(
        self,
        knowledge: Knowledge,
        embedder: TextEmbedder | None,
        cache: VectorCache,
        query_timeout: float = QUERY_EMBED_TIMEOUT_S,
    ) -> None:
        self._knowledge = knowledge
        self.embedder = embedder
        self._cache = cache
        self._timeout = query_timeout

    async def query(
        self, account_id: str, collection_ids: Sequence[str], text: str, top_k: int
    ) -> list[Hit]:
        """The best passages for `text` in these collections (the account's, with their
        pages), best first."""
        within = await self._knowledge.searchable(account_id, collection_ids)
        if not within:
            return []
        if self.embedder is None:
            ranked = await self._knowledge.lexical(within, text, top_k)
            return await self._knowledge.hits(account_id, ranked)
        lexical, semantic = await asyncio.gather(
            self._knowledge.lexical(within, text, max(POOL, top_k)),
            self._semantic(self.embedder, within, text, max(POOL, top_k)),
        )
        if semantic is None:
            ranked = lexical[:top_k]
        else:
            ranked = fuse([[i for i, _ in lexical], [i for i, _ in semantic]])[:top_k]
        return await self._knowledge.hits(account_id, ranked)

    async def _semantic(
        self, embedder: TextEmbedder, within: Sequence[str], text: str, limit: int
    ) -> list[tuple[str, float]] | None:
        """(chunk id, cosine) best first, or None when the question could not be embedded."""
        try:
            question = await embedder.embed_query(text, wait_s=self._timeout)
        except (ProviderError, TimeoutError) as exc:
            log.warning("knowledge search without meaning (full text only): %s", exc)
            metrics.SEMANTIC_FAILURES.inc()
            return None
        shelves = await self._shelves(embedder.model, within)
        return await asyncio.to_thread(nearest, question, shelves, limit)

    async def _shelves(self, model: str, within: Sequence[str]) -> list[Shelf]:
        revisions = await self._knowledge.revisions(within)  # before the vectors: see Knowledge
        shelves = []
        for collection_id, revision in revisions.items():
            shelf = self._cache.get(collection_id, revision)
            if shelf is None:
                rows = await self._knowledge.vectors(collection_id, model)
                shelf = await asyncio.to_thread(Shelf.of, revision, rows)
                self._cache.put(collection_id, shelf)
            shelves.append(shelf)
        return shelves
