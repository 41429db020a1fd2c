"""Embeddings from any OpenAI-compatible `/v1/embeddings` (OpenAI, Azure, vLLM, Ollama,
LiteLLM, …), through the official SDK.

Vectors come back as unit-length float32 rows, so a dot product is the cosine similarity
whatever the server returns. Documents are embedded in batches of `BATCH` passages, each
retried (`tenacity`) when the failure may pass (a 429, a 5xx, a dropped connection); a
question is embedded once with a short timeout, because a caller is waiting on it.
`encoding_format="float"` is asked for explicitly: the SDK's default (base64) is not
served by every compatible server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from parley.providers.base import Float32Matrix, ProviderError, TextEmbedder
from parley.providers.errors import reported_as

Vectors = Float32Matrix
BATCH = 64
ATTEMPTS = 4


class OpenAIEmbedder(TextEmbedder):
    def __init__(self, client: Any, model: str, *, timeout: float = 30.0) -> None:
        self._client = client
        self.model = model
        self.name = f"openai-embed:{model}"
        self._timeout = timeout

    async def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """One unit row per text, in order; retried batch by batch."""
        rows = [
            await self._batch_with_retries(texts[i : i + BATCH])
            for i in range(0, len(texts), BATCH)
        ]
        return np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)

    async def embed_query(self, text: str, *, wait_s: float) -> Vectors:
        """The question's unit vector (one row), in one attempt within `wait_s`."""
        return await self._batch([text], wait_s)

    async def _batch_with_retries(self, texts: Sequence[str]) -> Vectors:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(ATTEMPTS),
            wait=wait_exponential(multiplier=0.5, max=8),
            retry=retry_if_exception(lambda e: isinstance(e, ProviderError) and e.retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._batch(texts, self._timeout)
        raise AssertionError("unreachable: tenacity reraises the last failure")

    async def _batch(self, texts: Sequence[str], wait_s: float) -> Vectors:
        with reported_as(self.name):
            answer = await self._client.embeddings.create(
                model=self.model, input=list(texts), encoding_format="float", timeout=wait_s
            )
            ordered = sorted(answer.data, key=lambda item: item.index)
            if len(ordered) != len(texts):
                raise ProviderError(
                    self.name, f"{len(ordered)} vectors for {len(texts)} texts", retryable=False
                )
            matrix = np.asarray([item.embedding for item in ordered], dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[1] == 0:
            raise ProviderError(self.name, "the vectors are empty", retryable=False)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        unit: Vectors = matrix / np.maximum(norms, 1e-12)
        return unit
