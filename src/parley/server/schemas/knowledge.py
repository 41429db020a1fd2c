"""File, knowledge collection and retrieval bodies (docs/protocols/rest.md, "Knowledge")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from parley.store.knowledge import Hit, Progress
from parley.store.tables import Collection, Document, File
from parley.validation import reject_bad_text

Url = Annotated[str, Field(pattern=r"^https?://[^\s/$.?#][^\s]*$", max_length=2048)]
Id = Annotated[str, Field(min_length=1, max_length=40)]


class TextSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    text: str = Field(min_length=1, max_length=1_000_000)


class Sources(BaseModel):
    """Documents to add: uploaded files by id, texts, and web pages by URL."""

    model_config = ConfigDict(extra="forbid")

    file_ids: list[Id] = Field(default_factory=list, max_length=100)
    texts: list[TextSource] = Field(default_factory=list, max_length=100)
    urls: list[Url] = Field(default_factory=list, max_length=50)

    _text = model_validator(mode="before")(reject_bad_text)


class KnowledgeCreate(Sources):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    parent_id: Id | None = Field(
        default=None, description="Make it a page under this collection (or page)."
    )


class KnowledgeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)

    _text = model_validator(mode="before")(reject_bad_text)


class QueryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000)
    top_k: int = Field(default=5, ge=1, le=50)

    _text = model_validator(mode="before")(reject_bad_text)


class FileOut(BaseModel):
    id: str
    name: str
    kind: str = Field(description="txt, md, html, pdf, docx or csv: sniffed from the content")
    content_type: str
    size: int
    sha256: str
    created_at: datetime

    @classmethod
    def of(cls, file: File) -> FileOut:
        return cls(
            id=file.id,
            name=file.name,
            kind=file.kind,
            content_type=file.content_type,
            size=file.size,
            sha256=file.sha256,
            created_at=file.created_at,
        )


class DocumentOut(BaseModel):
    id: str
    collection_id: str
    source: Literal["file", "text", "url"]
    file_id: str | None
    url: str | None
    title: str
    status: Literal["processing", "ready", "failed"]
    error: str | None
    chunks: int
    created_at: datetime

    @classmethod
    def of(cls, document: Document) -> DocumentOut:
        return cls(
            id=document.id,
            collection_id=document.collection_id,
            source=document.source,  # type: ignore[arg-type]
            file_id=document.file_id,
            url=document.url,
            title=document.title,
            status=document.status,  # type: ignore[arg-type]
            error=document.error,
            chunks=document.chunks,
            created_at=document.created_at,
        )


class Counts(BaseModel):
    total: int
    ready: int
    failed: int


class KnowledgeOut(BaseModel):
    id: str
    name: str
    description: str
    kind: Literal["knowledge", "page"]
    parent_id: str | None
    status: Literal["processing", "ready", "failed"] = Field(
        description="processing while any document is; failed when every document failed"
    )
    documents: Counts
    chunks: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, collection: Collection, progress: Progress) -> KnowledgeOut:
        return cls(
            id=collection.id,
            name=collection.name,
            description=collection.description,
            kind=collection.kind,  # type: ignore[arg-type]
            parent_id=collection.parent_id,
            status=progress.status,  # type: ignore[arg-type]
            documents=Counts(
                total=progress.documents, ready=progress.ready, failed=progress.failed
            ),
            chunks=progress.chunks,
            created_at=collection.created_at,
            updated_at=collection.updated_at,
        )


class Passage(BaseModel):
    chunk_id: str
    source_id: str = Field(description="The document the passage is from.")
    collection_id: str
    file_id: str | None
    url: str | None
    title: str
    text: str
    position: int = Field(description="The passage's place in its document, from 0.")
    score: float = Field(
        description="Higher is better: BM25 alone, or the reciprocal-rank-fusion score when "
        "an embedding provider ranks passages too."
    )

    @classmethod
    def of(cls, hit: Hit) -> Passage:
        chunk, document = hit.chunk, hit.document
        return cls(
            chunk_id=chunk.id,
            source_id=document.id,
            collection_id=chunk.collection_id,
            file_id=document.file_id,
            url=document.url,
            title=document.title,
            text=chunk.text,
            position=chunk.position,
            score=round(hit.score, 6),
        )


class QueryOut(BaseModel):
    data: list[Passage]
