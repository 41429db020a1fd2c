"""Writing the transcript as the conversation happens, in order, off the actor's path.

The engine numbers every message (`seq`) when it knows its place in the conversation, then
hands the record to the writer, which saves records one at a time in a child task, so a slow
database never stalls turn-taking and rows land in the order they were handed over. A
record handed over again with the same `seq` replaces the earlier one (a tool call getting
its result). Closing drains everything before the session is marked ended.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from parley.engine.events import EndReason, Medium

log = logging.getLogger("parley.engine")

MAX_PENDING = 1024


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    role: Literal["user", "agent", "tool_call"]
    text: str = ""
    turn: int | None = None
    interrupted: bool = False
    tool: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    medium: Medium = "voice"  # spoken, or typed / written
    citations: list[dict[str, Any]] | None = None  # the sources an agent utterance drew on


class TranscriptStore(Protocol):
    async def save(self, record: Record) -> None:
        """Insert the record, or replace the one with the same `seq`."""

    async def finish(self, reason: EndReason) -> None:
        """The session is over; nothing more will be saved."""


class NoTranscript:
    """For ephemeral sessions: nothing is stored."""

    async def save(self, record: Record) -> None:
        pass

    async def finish(self, reason: EndReason) -> None:
        pass


class TranscriptWriter:
    def __init__(self, store: TranscriptStore) -> None:
        self._store = store
        self._queue: asyncio.Queue[Record | None] = asyncio.Queue(MAX_PENDING)
        self._task = asyncio.create_task(self._run(), name="parley-transcript")

    def save(self, record: Record) -> None:
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            log.error("transcript backlog full; message %d not stored", record.seq)

    async def close(self, reason: EndReason) -> None:
        """Store everything handed over, then mark the session ended."""
        await self._queue.put(None)
        try:
            await self._task
        finally:
            try:
                await self._store.finish(reason)
            except Exception:
                log.exception("could not mark the session ended")

    async def _run(self) -> None:
        while (record := await self._queue.get()) is not None:
            try:
                await self._store.save(record)
            except Exception:
                log.exception("could not store transcript message %d", record.seq)
