"""Ingesting a document in the background: read its source, extract the text (in a
thread: PDF parsing is CPU work), chunk it, and store and index the chunks.

Each document is one task owned by the server (`Services.chore`), so adding documents
answers at once with `processing`; the document ends `ready` with its chunk count, or
`failed` with a message that says why (a corrupt PDF, a URL that would not answer, a
private address the outbound guard refused, an embedding provider that kept failing).

With an embedding provider configured, a document's passages are embedded before they are
stored, so a `ready` document is searchable both ways at once. Passages stored before the
provider was configured (or by another model) are embedded afterwards (`backfill`).

A document records the process reading it. If that process dies mid-read, the document
would stay `processing` for ever; instead the next sweep of any live process claims it and
reads it again (`resume`).
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from parley.knowledge.chunking import chunks
from parley.knowledge.extract import ExtractionFailed, Kind, extract, html_text, sniff
from parley.providers.base import Float32Matrix, ProviderError
from parley.server.deps import Services
from parley.server.files import file_path
from parley.store.tables import Document

log = logging.getLogger("parley.server")

BACKFILL_BATCH = 256
MAX_URL_BYTES = 10 << 20
URL_TIMEOUT_S = 20.0


class IngestionFailed(Exception):
    pass


def start(services: Services, document: Document) -> None:
    services.chore(ingest(services, document), f"ingest-{document.id}")


async def ingest(services: Services, document: Document) -> None:
    async with services.ingesting:  # two at a time: a burst of uploads queues, it does not
        await _ingest(services, document)  # starve sessions of the threads they start on


async def _ingest(services: Services, document: Document) -> None:
    store = services.store.knowledge
    try:
        data, kind = await _source(services, document)
        text = await asyncio.to_thread(_text, data, kind)
        passages = await asyncio.to_thread(chunks, text)
        if not passages:
            raise IngestionFailed("the document has no text")
        embedder, reader = services.retriever.embedder, services.worker_id
        if embedder is None:
            written = await store.ingested(document.id, passages, reader=reader)
        else:
            try:
                vectors = await embedder.embed_documents(passages)
            except ProviderError as exc:
                raise IngestionFailed(f"the embedding provider failed: {exc}") from None
            written = await store.ingested(
                document.id, passages, _blobs(vectors), embedder.model, reader=reader
            )
        if not written:
            log.info("document %s: read, but no longer this process's to store", document.id)
    except asyncio.CancelledError:  # the server stops: whichever process runs next reads it
        await store.unclaim(document.id)
        raise
    except (IngestionFailed, ExtractionFailed) as exc:
        log.info("document %s failed: %s", document.id, exc)
        await store.failed(document.id, str(exc))
    except OSError:  # the message names the server's paths: keep it in the log
        log.exception("document %s: its file could not be read", document.id)
        await store.failed(document.id, "the file's content could not be read")
    except Exception:
        log.exception("document %s failed unexpectedly", document.id)
        await store.failed(document.id, "the document could not be read")


async def resume(services: Services) -> None:
    """Read again the documents whose reader died (claimed for this process)."""
    if services.worker_id is None:
        return
    for document in await services.store.knowledge.claim_unread(services.worker_id):
        log.info("document %s: reading it again (its reader stopped)", document.id)
        start(services, document)


async def backfill(services: Services) -> None:
    """Embed the passages that have no vector from the configured model, a batch at a time
    (sharing the ingestion slots); a failing provider stops it until the next start."""
    embedder, store = services.retriever.embedder, services.store.knowledge
    if embedder is None:
        return
    done = 0
    while batch := await store.unembedded(embedder.model, BACKFILL_BATCH):
        async with services.ingesting:
            try:
                vectors = await embedder.embed_documents([text for _, text in batch])
            except ProviderError as exc:
                log.warning("embedding earlier passages stopped after %d: %s", done, exc)
                return
            await store.set_vectors(
                embedder.model, dict(zip([i for i, _ in batch], _blobs(vectors), strict=True))
            )
        done += len(batch)
    if done:
        log.info("embedded %d earlier passage(s) with %s", done, embedder.name)


def _blobs(vectors: Float32Matrix) -> list[bytes]:
    return [row.astype("<f4").tobytes() for row in vectors]


def _text(data: bytes, kind: Kind | None) -> str:
    return html_text(data.decode("utf-8", "replace")) if kind is None else extract(data, kind)


async def _source(services: Services, document: Document) -> tuple[bytes, Kind | None]:
    """The document's bytes and kind (None: a web page, already HTML)."""
    if document.source == "text":
        return (document.text or "").encode(), "txt"
    if document.source == "file":
        file = await services.store.knowledge.file(document.account_id, document.file_id or "")
        if file is None:
            raise IngestionFailed("the file was deleted")
        path = file_path(services.settings, file.id)
        return await asyncio.to_thread(path.read_bytes), file.kind  # type: ignore[return-value]
    return await _fetch(services, document.url or "")


async def _fetch(services: Services, url: str) -> tuple[bytes, Kind | None]:
    """A URL through the outbound guard (API users choose it), at most `MAX_URL_BYTES`."""
    http: httpx.AsyncClient = services.hub.guarded_http()
    try:
        async with http.stream("GET", url, timeout=URL_TIMEOUT_S, follow_redirects=True) as answer:
            if answer.status_code >= 400:
                raise IngestionFailed(f"{url} answered HTTP {answer.status_code}")
            body = b""
            async for piece in answer.aiter_bytes():
                body += piece
                if len(body) > MAX_URL_BYTES:
                    raise IngestionFailed(f"{url} is larger than {MAX_URL_BYTES} bytes")
            content_type = answer.headers.get("content-type", "")
    except httpx.HTTPError as exc:
        raise IngestionFailed(f"{url} could not be fetched: {exc}") from None
    if "html" in content_type:
        return body, None
    return body, sniff(body, url.rsplit("/", 1)[-1])
