"""The transcript: one row per utterance or tool call, in speaking order.

The conversation engine is the only writer for a session and numbers its messages (`seq`)
itself, so writes need no read-modify-write. A tool call is one row, written when the call
is dispatched and completed in place when its result arrives, so the stored call and its
result can never be separated. Live sessions write through `batch` (`MessageBatcher`: every
session's rows together, a few times a second); reads wait for it first, so a transcript read
through this process includes everything its live sessions have said. `append` writes one
row at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parley.credentials import new_id
from parley.store._paging import page
from parley.store.message_batch import MessageBatcher
from parley.store.tables import Message, Session

ROLES = ("user", "agent", "tool_call")


def message_row(
    *,
    session_id: str,
    conversation_id: str,
    seq: int,
    role: str,
    text: str = "",
    turn: int | None = None,
    interrupted: bool = False,
    tool: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    medium: str = "voice",
    citations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Every column of a new transcript row, its id and time included (for `append` or
    `batch.insert`)."""
    if role not in ROLES:
        raise ValueError(f"unknown message role {role!r}")
    return {
        "id": new_id("msg"),
        "session_id": session_id,
        "conversation_id": conversation_id,
        "seq": seq,
        "role": role,
        "text": text,
        "turn": turn,
        "interrupted": interrupted,
        "tool": tool,
        "metrics": metrics,
        "medium": medium,
        "citations": citations,
        "created_at": datetime.now(UTC),
    }


class Messages:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self.batch = MessageBatcher(sessions)  # how live sessions write their transcripts

    async def append(self, **columns: Any) -> Message:
        """Write one row at once; `columns` as `message_row` takes them."""
        message = Message(**message_row(**columns))
        async with self._sessions.begin() as db:
            db.add(message)
        return message

    async def for_session(
        self, account_id: str, session_id: str, *, limit: int, offset: int
    ) -> tuple[Sequence[Message], int]:
        query = (
            select(Message)
            .join(Session, Session.id == Message.session_id)
            .where(Message.session_id == session_id, Session.account_id == account_id)
            .order_by(Message.seq)
        )
        await self.batch.flush()  # read what this process's live sessions have said, too
        async with self._sessions() as db:
            return await page(db, query, limit=limit, offset=offset)

    async def for_conversation(self, account_id: str, conversation_id: str) -> Sequence[Message]:
        """The whole history of a conversation across its sessions, oldest first."""
        query = (
            select(Message)
            .join(Session, Session.id == Message.session_id)
            .where(Message.conversation_id == conversation_id, Session.account_id == account_id)
            .order_by(Session.created_at, Message.seq)
        )
        await self.batch.flush()
        async with self._sessions() as db:
            return (await db.execute(query)).scalars().all()
