"""The relational schema: accounts, API keys, agents, sessions and their messages.

Invariants the schema carries:
- Every agent and session belongs to exactly one account; every query filters by it.
- Secrets are never stored: `api_keys.key_hash` and `sessions.token_hash` hold SHA-256.
  Credentials agents need (endpoint headers) are stored sealed (`sealing.SealedJSON`).
- A conversation is a chain of sessions sharing `conversation_id`; its history is the
  messages of those sessions in (session creation, `seq`) order.
- `messages.seq` is dense and unique per session, assigned by the writer in speaking order.
- Timestamps are timezone-aware UTC on the way in and on the way out, on every backend.
- A joined, active session names the worker (process) holding it; a session whose worker is
  dead is ended `system_error` by whichever process notices first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from parley.store.sealing import SealedJSON, SealedText


class UTCDateTime(TypeDecorator[datetime]):
    """A DateTime that always comes back timezone-aware UTC (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    default_agent_id: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (Index("ix_agents_account_listing", "account_id", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    voice_id: Mapped[str] = mapped_column(String(200))
    system_prompt: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(35), default="en")
    tools: Mapped[list[dict[str, Any]]] = mapped_column(SealedJSON, default=list)
    max_turns: Mapped[int] = mapped_column(Integer, default=50)
    greeting: Mapped[str | None] = mapped_column(Text, default=None)
    keyterms: Mapped[list[str]] = mapped_column(JSONType, default=list)
    stt: Mapped[str | list[str] | None] = mapped_column(JSONType, default=None)
    llm: Mapped[str | list[str] | None] = mapped_column(JSONType, default=None)
    tts: Mapped[str | list[str] | None] = mapped_column(JSONType, default=None)
    temperature: Mapped[float | None] = mapped_column(Float, default=None)
    max_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    llm_endpoint: Mapped[dict[str, Any] | None] = mapped_column(SealedJSON, default=None)
    vad: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    lifecycle: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    knowledge_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    record: Mapped[bool] = mapped_column(Boolean, default=False)  # its sessions are recorded
    status: Mapped[str] = mapped_column(String(16), default="active")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Session(Base):
    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_account_listing", "account_id", "created_at"),
        Index("ix_sessions_agent_status", "agent_id", "status"),
        Index("ix_sessions_status_expires", "status", "expires_at"),
        Index("ix_sessions_conversation", "conversation_id"),
        Index("ix_sessions_status_worker", "status", "worker_id"),
        Index("ix_sessions_account_dialect", "account_id", "dialect", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(String(40))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    status: Mapped[str] = mapped_column(String(16), default="active")
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    initial_message: Mapped[str | None] = mapped_column(Text, default=None)
    start: Mapped[dict[str, Any] | None] = mapped_column(SealedJSON, default=None)
    dialect: Mapped[str | None] = mapped_column(String(32), default=None)
    ephemeral: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    end_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    worker_id: Mapped[str | None] = mapped_column(String(40), default=None)  # who holds it live
    recording: Mapped[bool] = mapped_column(Boolean, default=False)  # recorded (file on disk)
    short_summary: Mapped[str | None] = mapped_column(Text, default=None)
    summary: Mapped[str | None] = mapped_column(Text, default=None)


class Worker(Base):
    """A server process that holds live sessions. It beats while it runs; one whose beat has
    stopped (or whose pid is gone, on its own host) is dead, and its sessions are orphans."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Its load at the last beat: live sessions, and whether it was refusing new calls (a
    # deployment is full when every live worker is).
    sessions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    full: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("session_id", "seq", name="uq_messages_session_seq"),
        Index("ix_messages_conversation", "conversation_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    turn: Mapped[int | None] = mapped_column(Integer, default=None)
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    tool: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    medium: Mapped[str] = mapped_column(String(8), default="voice")  # voice | text
    citations: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class File(Base):
    """An uploaded document; its bytes are a file under the files directory, named by id."""

    __tablename__ = "files"
    __table_args__ = (Index("ix_files_account_listing", "account_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(8))  # txt | md | html | pdf | docx | csv (sniffed)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Collection(Base):
    """A knowledge collection, or a page (a collection that may hold child pages)."""

    __tablename__ = "collections"
    __table_args__ = (Index("ix_collections_account_listing", "account_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), default=None
    )
    kind: Mapped[str] = mapped_column(String(16), default="knowledge")  # knowledge | page
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped whenever its passages change: a process's cached vectors of an older revision
    # are stale (knowledge/vectors.py).
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Document(Base):
    """One source in a collection (a file, a text or a URL) and its ingestion."""

    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_collection", "collection_id", "created_at"),
        Index("ix_documents_unread", "status", "worker_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    collection_id: Mapped[str] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(8))  # file | text | url
    file_id: Mapped[str | None] = mapped_column(
        ForeignKey("files.id", ondelete="CASCADE"), default=None
    )
    url: Mapped[str | None] = mapped_column(String(2048), default=None)
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str | None] = mapped_column(Text, default=None)  # a text source's own text
    status: Mapped[str] = mapped_column(String(16), default="processing")  # | ready | failed
    error: Mapped[str | None] = mapped_column(Text, default=None)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The process reading it while `processing`; if that process dies, another reads it.
    worker_id: Mapped[str | None] = mapped_column(String(40), default=None)


class Chunk(Base):
    """A passage of a document, the unit of retrieval (indexed for full-text search)."""

    __tablename__ = "chunks"
    __table_args__ = (
        Index("ix_chunks_document", "document_id", "position"),
        Index("ix_chunks_collection", "collection_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    collection_id: Mapped[str] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # its place in the document, from 0
    text: Mapped[str] = mapped_column(Text)
    # Its embedding (unit float32, native byte order of numpy's `<f4`) and the model that
    # made it; None when no embedding provider is configured.
    vector: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    vector_model: Mapped[str | None] = mapped_column(String(200), default=None)


class Secret(Base):
    """A credential HTTP tools may use (`{{secret:NAME}}`), sealed; never shown again."""

    __tablename__ = "secrets"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_secrets_account_name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(SealedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Webhook(Base):
    """Where an account wants its events POSTed (Standard Webhooks); the secret signs them."""

    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_account_listing", "account_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    secret: Mapped[str] = mapped_column(SealedText)  # `whsec_…`, shown once
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event for one webhook (its id is the `webhook-id` header) and how sending went:
    `pending` while attempts remain, then `succeeded` or `failed`. A pending delivery names
    the process sending it; one whose process is gone is claimed by another."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_listing", "webhook_id", "created_at"),
        Index("ix_webhook_deliveries_pending", "status", "worker_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    worker_id: Mapped[str | None] = mapped_column(String(40), default=None)


class PhoneNumber(Base):
    """A phone number that reaches an agent: the voice webhook finds the agent by the number
    called (`To`). A number belongs to one account of the deployment."""

    __tablename__ = "phone_numbers"
    __table_args__ = (Index("ix_phone_numbers_account_listing", "account_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(32), unique=True)  # E.164
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TwilioAccount(Base):
    """An account's own Twilio credentials (its webhooks are checked with its auth token and
    its calls placed and ended with them); sealed, never shown again."""

    __tablename__ = "twilio_accounts"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    account_sid: Mapped[str] = mapped_column(String(64), unique=True)
    auth_token: Mapped[str] = mapped_column(SealedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
