"""Files, knowledge collections (and pages), their documents and chunks, and search.

Invariants:
- Every row carries its account; every read and write filters by it, so another account's
  objects do not exist (None / False, which the API shows as 404).
- A document's chunks and their index entries are written in one transaction when its
  ingestion succeeds, and removed with it (or with its file, or its collection), so the
  index never holds a passage whose document is gone.
- A page is a collection with a parent; searching a page searches everything under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parley.credentials import new_id
from parley.store import search
from parley.store._paging import page
from parley.store.tables import Chunk, Collection, Document, File, Worker

MAX_PAGE_DEPTH = 16  # pages below pages; deeper is refused, so every search reaches them all
BATCH = 500
Owned = TypeVar("Owned", File, Collection, Document)


@dataclass(frozen=True)
class Progress:
    """A collection's ingestion, over its own documents."""

    documents: int
    ready: int
    failed: int
    chunks: int

    @property
    def status(self) -> str:
        if self.ready + self.failed < self.documents:
            return "processing"
        return "failed" if self.failed and not self.ready else "ready"


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    document: Document
    score: float


class Knowledge:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # Files --------------------------------------------------------------------------------

    async def add_file(self, account_id: str, **fields: Any) -> File:
        file = File(id=new_id("fil"), account_id=account_id, created_at=_now(), **fields)
        async with self._sessions.begin() as db:
            db.add(file)
        return file

    async def file(self, account_id: str, file_id: str) -> File | None:
        return await self._get(File, account_id, file_id)

    async def files(
        self, account_id: str, *, limit: int, offset: int
    ) -> tuple[Sequence[File], int]:
        query = select(File).where(File.account_id == account_id)
        query = query.order_by(File.created_at.desc(), File.id.desc())
        async with self._sessions() as db:
            return await page(db, query, limit=limit, offset=offset)

    async def delete_file(self, account_id: str, file_id: str) -> bool:
        """The file and every document made from it, with their chunks."""
        async with self._sessions.begin() as db:
            file = await db.get(File, file_id)
            if file is None or file.account_id != account_id:
                return False
            documents = select(Document.id).where(Document.file_id == file_id)
            touched = select(Document.collection_id).where(Document.file_id == file_id)
            await _bump(db, list((await db.execute(touched)).scalars()))
            await self._drop_chunks(db, Chunk.document_id.in_(documents))
            await db.execute(delete(Document).where(Document.file_id == file_id))
            await db.delete(file)
        return True

    # Collections and pages ------------------------------------------------------------------

    async def create_collection(
        self, account_id: str, *, name: str, description: str = "", parent_id: str | None = None
    ) -> Collection | None:
        """None if `parent_id` is not one of the account's collections."""
        now = _now()
        async with self._sessions.begin() as db:
            if parent_id is not None:
                parent = await db.get(Collection, parent_id)
                if parent is None or parent.account_id != account_id:
                    return None
                depth = 1
                while parent is not None and parent.parent_id is not None:
                    depth += 1
                    parent = await db.get(Collection, parent.parent_id)
                if depth >= MAX_PAGE_DEPTH:
                    raise ValueError(f"pages nest at most {MAX_PAGE_DEPTH} levels deep")
            collection = Collection(
                id=new_id("kno"),
                account_id=account_id,
                parent_id=parent_id,
                kind="page" if parent_id is not None else "knowledge",
                name=name,
                description=description,
                created_at=now,
                updated_at=now,
            )
            db.add(collection)
        return collection

    async def collection(self, account_id: str, collection_id: str) -> Collection | None:
        return await self._get(Collection, account_id, collection_id)

    async def collections(
        self, account_id: str, *, limit: int, offset: int
    ) -> tuple[Sequence[Collection], int]:
        query = select(Collection).where(Collection.account_id == account_id)
        query = query.order_by(Collection.created_at.desc(), Collection.id.desc())
        async with self._sessions() as db:
            return await page(db, query, limit=limit, offset=offset)

    async def rename(
        self, account_id: str, collection_id: str, **changes: str
    ) -> Collection | None:
        async with self._sessions.begin() as db:
            collection = await db.get(Collection, collection_id)
            if collection is None or collection.account_id != account_id:
                return None
            for field, value in changes.items():
                setattr(collection, field, value)
            collection.updated_at = _now()
        return collection

    async def delete_collection(self, account_id: str, collection_id: str) -> bool:
        """The collection, its pages, their documents and chunks."""
        async with self._sessions.begin() as db:
            found = await self._tree(db, account_id, [collection_id])
            if not found:
                return False
            await self._drop_chunks(db, Chunk.collection_id.in_(found))
            await db.execute(delete(Document).where(Document.collection_id.in_(found)))
            await db.execute(delete(Collection).where(Collection.id.in_(found)))
        return True

    async def progress(self, collection_id: str) -> Progress:
        query = select(
            func.count(),
            func.count().filter(Document.status == "ready"),
            func.count().filter(Document.status == "failed"),
            func.coalesce(func.sum(Document.chunks), 0),
        ).where(Document.collection_id == collection_id)
        async with self._sessions() as db:
            total, ready, failed, chunks = (await db.execute(query)).one()
        return Progress(int(total), int(ready), int(failed), int(chunks))

    async def names(self, account_id: str, collection_ids: Sequence[str]) -> dict[str, str]:
        query = select(Collection.id, Collection.name).where(
            Collection.id.in_(list(collection_ids)), Collection.account_id == account_id
        )
        async with self._sessions() as db:
            return {str(i): str(n) for i, n in (await db.execute(query)).all()}

    async def searchable(self, account_id: str, collection_ids: Sequence[str]) -> list[str]:
        """The account's collections among these, with every page under them."""
        async with self._sessions() as db:
            return await self._tree(db, account_id, collection_ids)

    # Documents --------------------------------------------------------------------------------

    async def add_document(self, account_id: str, collection_id: str, **fields: Any) -> Document:
        document = Document(
            id=new_id("doc"),
            account_id=account_id,
            collection_id=collection_id,
            status="processing",
            chunks=0,
            created_at=_now(),
            **fields,
        )
        async with self._sessions.begin() as db:
            db.add(document)
        return document

    async def document(self, account_id: str, document_id: str) -> Document | None:
        return await self._get(Document, account_id, document_id)

    async def documents(self, collection_id: str) -> Sequence[Document]:
        query = select(Document).where(Document.collection_id == collection_id)
        async with self._sessions() as db:
            return (
                (await db.execute(query.order_by(Document.created_at, Document.id))).scalars().all()
            )

    async def ingested(
        self,
        document_id: str,
        passages: Sequence[str],
        vectors: Sequence[bytes] | None = None,
        model: str | None = None,
        reader: str | None = None,
    ) -> bool:
        """The document's chunks (with their vectors, if any), indexed, and the document
        ready (all or nothing). False, and nothing written, if it is no longer `reader`'s to
        write: deleted, already read, or claimed by another worker while this one stalled."""
        async with self._sessions.begin() as db:
            document = await db.get(Document, document_id, with_for_update=True)
            if document is None or document.status != "processing":
                return False
            if reader is not None and document.worker_id not in (None, reader):
                return False
            rows = [
                Chunk(
                    id=new_id("chk"),
                    account_id=document.account_id,
                    collection_id=document.collection_id,
                    document_id=document.id,
                    position=position,
                    text=passage,
                    vector=vectors[position] if vectors is not None else None,
                    vector_model=model if vectors is not None else None,
                )
                for position, passage in enumerate(passages)
            ]
            db.add_all(rows)
            await db.flush()
            await search.add(db, [(c.id, c.collection_id, c.text) for c in rows])
            document.status, document.chunks, document.error = "ready", len(rows), None
            document.worker_id = None
            await _bump(db, [document.collection_id])
        return True

    async def unclaim(self, document_id: str) -> None:
        """Still `processing`, but no process's: the next sweep of any claims it."""
        async with self._sessions.begin() as db:
            await db.execute(
                update(Document)
                .where(Document.id == document_id, Document.status == "processing")
                .values(worker_id=None)
            )

    async def failed(self, document_id: str, error: str) -> None:
        async with self._sessions.begin() as db:
            await db.execute(
                update(Document)
                .where(Document.id == document_id)
                .values(status="failed", error=error[:2000], worker_id=None)
            )

    async def delete_document(self, account_id: str, collection_id: str, document_id: str) -> bool:
        async with self._sessions.begin() as db:
            document = await db.get(Document, document_id)
            if (
                document is None
                or document.account_id != account_id
                or document.collection_id != collection_id
            ):
                return False
            await self._drop_chunks(db, Chunk.document_id == document_id)
            await db.delete(document)
            await _bump(db, [collection_id])
        return True

    # Search -----------------------------------------------------------------------------------

    async def lexical(
        self, within: Sequence[str], text: str, limit: int
    ) -> list[tuple[str, float]]:
        """(chunk id, score) by full text in exactly these collections, best first."""
        async with self._sessions() as db:
            return await search.ranked(db, within, text, limit)

    async def hits(self, account_id: str, ranked: Sequence[tuple[str, float]]) -> list[Hit]:
        """The ranked chunks with their documents, in the given order (the account's only)."""
        if not ranked:
            return []
        ids = [chunk_id for chunk_id, _ in ranked]
        async with self._sessions() as db:
            rows = await db.execute(
                select(Chunk, Document)
                .join(Document, Document.id == Chunk.document_id)
                .where(Chunk.id.in_(ids), Chunk.account_id == account_id)
            )
            found = {chunk.id: (chunk, document) for chunk, document in rows.all()}
        return [Hit(*found[i], score) for i, score in ranked if i in found]

    async def revisions(self, collection_ids: Sequence[str]) -> dict[str, int]:
        query = select(Collection.id, Collection.revision).where(
            Collection.id.in_(list(collection_ids))
        )
        async with self._sessions() as db:
            return {str(i): int(r) for i, r in (await db.execute(query)).all()}

    async def vectors(self, collection_id: str, model: str) -> list[tuple[str, bytes]]:
        """(chunk id, vector bytes) of the collection's passages embedded by `model`. Read
        after its revision, so a change in between makes the cached copy look stale."""
        query = select(Chunk.id, Chunk.vector).where(
            Chunk.collection_id == collection_id,
            Chunk.vector_model == model,
            Chunk.vector.is_not(None),
        )
        async with self._sessions() as db:
            return [(str(i), bytes(v)) for i, v in (await db.execute(query)).all() if v is not None]

    async def unembedded(self, model: str, limit: int) -> list[tuple[str, str]]:
        """(chunk id, text) of passages with no vector from `model` (read before it was
        configured, or with another model), oldest documents first."""
        query = (
            select(Chunk.id, Chunk.text)
            .where(or_(Chunk.vector_model.is_(None), Chunk.vector_model != model))
            .order_by(Chunk.document_id, Chunk.position)
            .limit(limit)
        )
        async with self._sessions() as db:
            return [(str(i), str(t)) for i, t in (await db.execute(query)).all()]

    async def set_vectors(self, model: str, vectors: dict[str, bytes]) -> None:
        async with self._sessions.begin() as db:
            for chunk_id, vector in vectors.items():
                await db.execute(
                    update(Chunk)
                    .where(Chunk.id == chunk_id)
                    .values(vector=vector, vector_model=model)
                )
            touched = select(Chunk.collection_id).where(Chunk.id.in_(list(vectors))).distinct()
            await _bump(db, list((await db.execute(touched)).scalars()))

    # Ingestion that outlived its process --------------------------------------------------------

    async def claim_unread(self, worker_id: str) -> list[Document]:
        """Documents still `processing` whose reader is gone (no live worker row), now this
        worker's to read. Workers rows are swept first (`Workers.end_orphans`)."""
        alive = select(Worker.id)
        async with self._sessions.begin() as db:
            orphans = (
                (
                    await db.execute(
                        select(Document).where(
                            Document.status == "processing",
                            or_(Document.worker_id.is_(None), Document.worker_id.not_in(alive)),
                        )
                    )
                )
                .scalars()
                .all()
            )
            claimed: list[Document] = []
            for document in orphans:  # one at a time: another worker may claim it too
                result = await db.execute(
                    update(Document)
                    .where(
                        Document.id == document.id,
                        Document.worker_id.is_not_distinct_from(document.worker_id),
                    )
                    .values(worker_id=worker_id)
                )
                if result.rowcount:  # type: ignore[attr-defined]
                    document.worker_id = worker_id
                    claimed.append(document)
        return claimed

    # Helpers ----------------------------------------------------------------------------------

    async def _get(self, kind: type[Owned], account_id: str, object_id: str) -> Owned | None:
        async with self._sessions() as db:
            row = await db.get(kind, object_id)
        return row if row is not None and row.account_id == account_id else None

    @staticmethod
    async def _tree(db: AsyncSession, account_id: str, roots: Sequence[str]) -> list[str]:
        """These collections of the account, and all pages below them (breadth first)."""
        found: list[str] = []
        level = list(
            (
                await db.execute(
                    select(Collection.id).where(
                        Collection.id.in_(list(roots)), Collection.account_id == account_id
                    )
                )
            ).scalars()
        )
        for _ in range(MAX_PAGE_DEPTH):
            if not level:
                break
            found.extend(level)
            children = select(Collection.id).where(
                Collection.parent_id.in_(level), Collection.account_id == account_id
            )
            level = [c for c in (await db.execute(children)).scalars() if c not in found]
        return found

    @staticmethod
    async def _drop_chunks(db: AsyncSession, condition: Any) -> None:
        ids = list((await db.execute(select(Chunk.id).where(condition))).scalars())
        for start in range(0, len(ids), BATCH):  # every driver caps a statement's parameters
            batch = ids[start : start + BATCH]
            await search.remove(db, batch)
            await db.execute(delete(Chunk).where(Chunk.id.in_(batch)))


async def _bump(db: AsyncSession, collection_ids: Sequence[str]) -> None:
    """These collections' passages changed: cached vectors of them are stale."""
    if collection_ids:
        await db.execute(
            update(Collection)
            .where(Collection.id.in_(list(set(collection_ids))))
            .values(revision=Collection.revision + 1)
        )


def _now() -> datetime:
    return datetime.now(UTC)
