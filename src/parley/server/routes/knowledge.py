"""`/v1/knowledge`: collections (and pages) of documents an agent answers from, their
documents, and a query endpoint to test retrieval (docs/protocols/rest.md, "Knowledge").

Adding documents answers at once: each is ingested in the background (`processing`, then
`ready` with its passages, or `failed` with why), and the collection shows the progress.
URLs are fetched through the outbound guard, like HTTP tools.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from parley.server import ingestion
from parley.server.deps import AccountDep, Services, ServicesDep
from parley.server.errors import ApiError, not_found
from parley.server.openapi import errors
from parley.server.schemas.common import Limit, Offset, Page
from parley.server.schemas.knowledge import (
    DocumentOut,
    KnowledgeCreate,
    KnowledgeOut,
    KnowledgeUpdate,
    Passage,
    QueryIn,
    QueryOut,
    Sources,
)
from parley.store.tables import Account, Collection, Document

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"])


@router.post("", status_code=201, response_model=KnowledgeOut, responses=errors(404))
async def create_collection(
    body: KnowledgeCreate, account: AccountDep, found: ServicesDep
) -> KnowledgeOut:
    await _check_files(found, account, body)
    try:
        collection = await found.store.knowledge.create_collection(
            account.id, name=body.name, description=body.description, parent_id=body.parent_id
        )
    except ValueError as exc:
        raise ApiError(400, "bad_request", f"parent_id: {exc}") from None
    if collection is None:
        raise not_found("knowledge collection", body.parent_id or "")
    await _add(found, account, collection, body)
    return await _view(found, collection)


@router.get("", response_model=Page[KnowledgeOut])
async def list_collections(
    account: AccountDep, found: ServicesDep, limit: Limit = 20, offset: Offset = 0
) -> Page[KnowledgeOut]:
    rows, total = await found.store.knowledge.collections(account.id, limit=limit, offset=offset)
    data = [await _view(found, row) for row in rows]
    return Page(data=data, total=total, limit=limit, offset=offset)


@router.get("/{collection_id}", response_model=KnowledgeOut)
async def get_collection(
    collection_id: str, account: AccountDep, found: ServicesDep
) -> KnowledgeOut:
    return await _view(found, await _collection(found, account, collection_id))


@router.patch("/{collection_id}", response_model=KnowledgeOut)
async def update_collection(
    collection_id: str, body: KnowledgeUpdate, account: AccountDep, found: ServicesDep
) -> KnowledgeOut:
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    collection = await found.store.knowledge.rename(account.id, collection_id, **changes)
    if collection is None:
        raise not_found("knowledge collection", collection_id)
    return await _view(found, collection)


@router.delete("/{collection_id}", status_code=204)
async def delete_collection(
    collection_id: str, account: AccountDep, found: ServicesDep
) -> Response:
    """The collection, its pages, and their documents and passages."""
    if not await found.store.knowledge.delete_collection(account.id, collection_id):
        raise not_found("knowledge collection", collection_id)
    return Response(status_code=204)


@router.get("/{collection_id}/documents", response_model=list[DocumentOut])
async def list_documents(
    collection_id: str, account: AccountDep, found: ServicesDep
) -> list[DocumentOut]:
    collection = await _collection(found, account, collection_id)
    return [DocumentOut.of(d) for d in await found.store.knowledge.documents(collection.id)]


@router.post("/{collection_id}/documents", status_code=201, response_model=list[DocumentOut])
async def add_documents(
    collection_id: str, body: Sources, account: AccountDep, found: ServicesDep
) -> list[DocumentOut]:
    collection = await _collection(found, account, collection_id)
    await _check_files(found, account, body)
    return [DocumentOut.of(d) for d in await _add(found, account, collection, body)]


@router.delete("/{collection_id}/documents/{document_id}", status_code=204)
async def delete_document(
    collection_id: str, document_id: str, account: AccountDep, found: ServicesDep
) -> Response:
    if not await found.store.knowledge.delete_document(account.id, collection_id, document_id):
        raise not_found("document", document_id)
    return Response(status_code=204)


@router.post("/{collection_id}/query", response_model=QueryOut)
async def query_collection(
    collection_id: str, body: QueryIn, account: AccountDep, found: ServicesDep
) -> QueryOut:
    """The passages an agent would be given for `query`, best first (BM25, fused with
    semantic similarity when an embedding provider is configured)."""
    collection = await _collection(found, account, collection_id)
    hits = await found.retriever.query(account.id, [collection.id], body.query, body.top_k)
    return QueryOut(data=[Passage.of(hit) for hit in hits])


async def _collection(found: Services, account: Account, collection_id: str) -> Collection:
    collection = await found.store.knowledge.collection(account.id, collection_id)
    if collection is None:
        raise not_found("knowledge collection", collection_id)
    return collection


async def _check_files(found: Services, account: Account, sources: Sources) -> None:
    for file_id in sources.file_ids:
        if await found.store.knowledge.file(account.id, file_id) is None:
            raise ApiError(404, "not_found", f"file_ids: no file {file_id!r}")


async def _add(
    found: Services, account: Account, collection: Collection, sources: Sources
) -> list[Document]:
    store, reader = found.store.knowledge, found.worker_id  # this process reads them
    added = []
    for file_id in dict.fromkeys(sources.file_ids):  # a file named twice is one document
        file = await store.file(account.id, file_id)
        title = file.name if file is not None else file_id
        added.append(
            await store.add_document(
                account.id,
                collection.id,
                source="file",
                file_id=file_id,
                title=title,
                worker_id=reader,
            )
        )
    for text in sources.texts:
        added.append(
            await store.add_document(
                account.id,
                collection.id,
                source="text",
                title=text.title,
                text=text.text,
                worker_id=reader,
            )
        )
    for url in dict.fromkeys(sources.urls):
        added.append(
            await store.add_document(
                account.id, collection.id, source="url", url=url, title=url[:300], worker_id=reader
            )
        )
    for document in added:
        ingestion.start(found, document)
    return added


async def _view(found: Services, collection: Collection) -> KnowledgeOut:
    return KnowledgeOut.of(collection, await found.store.knowledge.progress(collection.id))
