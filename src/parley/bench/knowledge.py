"""The knowledge benchmark: how fast documents are read and chunked, and how fast a
question is answered from a large collection, on the store's own search.

Ingestion is measured on the pure path (extraction and chunking, per format, MB/s); query
latency on a collection of `chunks` passages written straight to a real store (SQLite FTS5
by default, PostgreSQL with a `database_url`), with questions that share words with some
passages, as a caller's would.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from parley.config import normalise_database_url
from parley.credentials import new_id
from parley.knowledge.chunking import chunks
from parley.knowledge.extract import Kind, extract
from parley.knowledge.vectors import VectorCache
from parley.providers.base import Float32Matrix, TextEmbedder
from parley.server.retrieval import Retriever
from parley.store import Store

TOPICS = (
    "opening hours", "parking", "insurance", "payment plans", "cancellation", "late arrival",
    "whitening", "implants", "aligners", "sedation", "children", "deposits", "complaints",
    "emergencies", "hygienist", "extractions", "crowns", "fillings", "x-rays", "recalls",
)  # fmt: skip
WORDS = [
    "patient",
    "clinic",
    "appointment",
    "treatment",
    "visit",
    "dentist",
    "team",
    "booking",
    "price",
    "reception",
    "week",
    "month",
    "morning",
    "evening",
    "care",
    "tooth",
    "teeth",
    "gum",
    "check",
    "form",
    "card",
    "plan",
    "policy",
    "service",
]


def _paragraph(rng: random.Random, topic: str, n: int) -> str:
    filler = " ".join(rng.choice(WORDS) for _ in range(rng.randint(18, 30)))
    return f"About {topic} (note {n}): {filler}. Ask the front desk about {topic} rule {n}."


def ingestion(documents: dict[Kind, bytes]) -> list[dict[str, Any]]:
    """Extraction plus chunking throughput per format, best of three."""
    rows = []
    for kind, data in documents.items():
        best = min(_timed(_reader(data, kind)) for _ in range(3))
        rows.append({"kind": kind, "mb": len(data) / 1e6, "mb_per_s": len(data) / 1e6 / best})
    return rows


def _reader(data: bytes, kind: Kind) -> Callable[[], object]:
    return lambda: chunks(extract(data, kind))


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


class InstantEmbedder(TextEmbedder):
    """Random unit vectors at once: times Parley's own part of a semantic search (the cached
    matrix product and the fusion), not any provider's network and model time."""

    def __init__(self, dimensions: int, seed: int = 7) -> None:
        self.name = self.model = f"instant-{dimensions}"
        self._rng = np.random.default_rng(seed)
        self._dimensions = dimensions

    async def embed_documents(self, texts: Sequence[str]) -> Float32Matrix:
        rows = self._rng.standard_normal((len(texts), self._dimensions)).astype(np.float32)
        unit: Float32Matrix = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        return unit

    async def embed_query(self, text: str, *, wait_s: float) -> Float32Matrix:
        return await self.embed_documents([text])


async def query_latency(
    chunk_count: int,
    queries: int = 200,
    database_url: str | None = None,
    seed: int = 7,
    dimensions: int = 0,
) -> dict[str, Any]:
    """Median and p95 query time (ms) over a collection of `chunk_count` passages: full
    text, and with `dimensions`, a fused search over vectors of that size too."""
    rng = random.Random(seed)
    embedder = InstantEmbedder(dimensions) if dimensions else None
    with tempfile.TemporaryDirectory() as scratch:
        url = database_url or f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}"
        store = await Store.open(normalise_database_url(url))
        try:
            account = await store.accounts.create("knowledge bench")
            knowledge = store.knowledge
            collection = await knowledge.create_collection(account.id, name="bench")
            assert collection is not None
            per_document = 50
            started = time.perf_counter()
            for start in range(0, chunk_count, per_document):
                document = await knowledge.add_document(
                    account.id, collection.id, source="text", title=new_id("t"), text=""
                )
                passages = [
                    _paragraph(rng, rng.choice(TOPICS), n)
                    for n in range(start, min(chunk_count, start + per_document))
                ]
                if embedder is None:
                    await knowledge.ingested(document.id, passages)
                else:
                    vectors = await embedder.embed_documents(passages)
                    blobs = [row.astype("<f4").tobytes() for row in vectors]
                    await knowledge.ingested(document.id, passages, blobs, embedder.model)
            indexing_s = time.perf_counter() - started
            plain = Retriever(knowledge, None, VectorCache(0))
            result: dict[str, Any] = {
                "chunks": chunk_count,
                "indexing_chunks_per_s": chunk_count / indexing_s,
                **await _timings(
                    "query", plain, account.id, collection.id, chunk_count, queries, rng
                ),
            }
            if embedder is not None:
                fused = Retriever(knowledge, embedder, VectorCache(1 << 30))
                result["dimensions"] = dimensions
                result.update(
                    await _timings(
                        "fused", fused, account.id, collection.id, chunk_count, queries, rng
                    )
                )
        finally:
            await store.close()
    return result


async def _timings(
    label: str,
    retriever: Retriever,
    account_id: str,
    collection_id: str,
    chunk_count: int,
    queries: int,
    rng: random.Random,
) -> dict[str, float]:
    times = []
    for n in range(queries + 1):
        question = f"What is the rule about {rng.choice(TOPICS)} {rng.randrange(chunk_count)}?"
        started = time.perf_counter()
        hits = await retriever.query(account_id, [collection_id], question, 3)
        if n:  # the first query warms the caches (and loads the vectors)
            times.append((time.perf_counter() - started) * 1000)
        assert hits, question
    times.sort()
    return {
        f"{label}_ms_p50": statistics.median(times),
        f"{label}_ms_p95": times[int(len(times) * 0.95) - 1],
    }
