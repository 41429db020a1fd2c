"""The engine's transcript store, on the database: one message row per record.

Records arrive numbered (`seq`) by the engine; the first time a `seq` is seen it is inserted,
afterwards the row is completed in place (a tool call's result). Rows go through the store's
write-behind (`MessageBatcher`), shared by every session of the process; ending the session
waits until they are written.
"""

from __future__ import annotations

from typing import Any

from parley.engine.events import EndReason
from parley.engine.transcript import Record
from parley.store import Store
from parley.store.messages import message_row


class StoredTranscript:
    def __init__(
        self, store: Store, session_id: str, conversation_id: str, *, keep_messages: bool = True
    ) -> None:
        self._store = store
        self._session_id = session_id
        self._conversation_id = conversation_id
        self._keep = keep_messages
        self._rows: dict[int, str] = {}

    async def save(self, record: Record) -> None:
        if not self._keep:
            return
        changes: dict[str, Any] = {
            "text": record.text,
            "interrupted": record.interrupted,
            "tool": record.tool,
            "metrics": record.metrics,
            "citations": record.citations,
        }
        batch = self._store.messages.batch
        written = self._rows.get(record.seq)
        if written is not None:
            batch.update(written, changes)
            return
        row = message_row(
            session_id=self._session_id,
            conversation_id=self._conversation_id,
            seq=record.seq,
            role=record.role,
            turn=record.turn,
            medium=record.medium,
            **changes,
        )
        self._rows[record.seq] = row["id"]
        batch.insert(row)

    async def finish(self, reason: EndReason) -> None:
        await self._store.messages.batch.flush()  # the transcript is whole before it is ended
        await self._store.sessions.end(self._session_id, reason)
