"""Transcript rows of every session on this process, written together a few times a second.

One transaction per transcript row was the largest cost a caller put on the event loop that
was not audio (the ORM's Python around each commit: about 5 writes a turn). Here rows wait
up to `every_s` and go in one transaction: an insert of all new rows, then an update of
all completed ones, both as one statement with many parameter sets.

Invariants:
- A row is written at most `every_s` after it was queued (plus the write itself); `flush()`
  returns once everything queued before it is in the database, and is what a session's end
  waits for, so a finished session's transcript is always complete.
- Changes to a row still waiting are folded into it (a reply completed within the same
  tenth of a second is one insert); later changes to a written row become one update.
- A batch the database refuses is retried row by row, so one bad row costs only itself.
- Bounded: past `max_pending` waiting rows, new ones are dropped with an error in the log.
- `close()` writes what is left and stops the writer task; nothing queued after it is kept.
- One writer task, started by the first row and ended by `close()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parley.store.tables import Message

log = logging.getLogger("parley.store")

EVERY_S = 0.1
MAX_PENDING = 20_000
CLOSE_S = 10.0


class MessageBatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        every_s: float = EVERY_S,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._sessions = sessions
        self._every_s = every_s
        self._max_pending = max_pending
        self._inserts: dict[str, dict[str, Any]] = {}  # row id → the whole row, in order
        self._updates: dict[str, dict[str, Any]] = {}  # row id → its changed columns
        self._queued = 0  # batches: the one now filling is number `_queued + 1`
        self._written = 0  # the last batch whose write has finished
        self._done = asyncio.Condition()
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def insert(self, row: dict[str, Any]) -> None:
        """Queue a new row (every column, `id` included)."""
        if self._room():
            self._inserts[row["id"]] = row
            self._start()

    def update(self, message_id: str, changes: dict[str, Any]) -> None:
        """Queue changes to a row queued or written earlier."""
        waiting = self._inserts.get(message_id)
        if waiting is not None:
            waiting.update(changes)
        elif self._room():
            self._updates.setdefault(message_id, {"id": message_id}).update(changes)
            self._start()

    async def flush(self) -> None:
        """Return once every row queued before this call has been written (or refused)."""
        if not (self._inserts or self._updates) and self._written == self._queued:
            return
        target = self._queued + (1 if self._inserts or self._updates else 0)
        self._wake.set()
        async with self._done:
            await self._done.wait_for(lambda: self._written >= target or self._task is None)

    async def close(self) -> None:
        """Write what is waiting (giving a stuck database `CLOSE_S`), then stop."""
        self._closed = True
        self._closing.set()
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, CLOSE_S)
            except TimeoutError:
                log.error("transcript rows still unwritten after %.0f s; giving up", CLOSE_S)
            self._task = None
        async with self._done:
            self._done.notify_all()

    def _room(self) -> bool:
        if self._closed:
            log.error("a transcript row arrived after the store closed; not stored")
            return False
        if len(self._inserts) + len(self._updates) >= self._max_pending:
            log.error(
                "transcript write-behind full (%d rows); a row is not stored", self._max_pending
            )
            return False
        return True

    def _start(self) -> None:
        self._wake.set()
        if self._task is None:
            # Started from inside some session's task, it serves every session: it must not
            # inherit that session's log context (its lines are the process's, not the call's).
            self._task = asyncio.create_task(
                self._run(), name="parley-transcript-batches", context=contextvars.Context()
            )

    async def _run(self) -> None:
        while not self._closed or self._inserts or self._updates:
            await self._wake.wait()
            with contextlib.suppress(TimeoutError):  # gather rows, unless closing
                await asyncio.wait_for(self._closing.wait(), self._every_s)
            self._wake.clear()
            await self._write_pending()

    async def _write_pending(self) -> None:
        inserts, updates = list(self._inserts.values()), list(self._updates.values())
        self._inserts, self._updates = {}, {}
        if not (inserts or updates):
            return
        self._queued += 1
        batch = self._queued
        try:
            await self._write(inserts, updates)
        finally:
            self._written = batch
            async with self._done:
                self._done.notify_all()

    async def _write(self, inserts: list[dict[str, Any]], updates: list[dict[str, Any]]) -> None:
        try:
            async with self._sessions.begin() as db:
                if inserts:
                    await db.execute(insert(Message), inserts)
                if updates:
                    await db.execute(update(Message), updates)
            return
        except Exception as exc:
            log.warning(
                "a batch of %d transcript rows failed (%s); one by one",
                len(inserts) + len(updates),
                exc,
            )
        for row in inserts:
            await self._write_one(insert(Message), row)
        for changes in updates:
            await self._write_one(update(Message), changes)

    async def _write_one(self, statement: Any, row: dict[str, Any]) -> None:
        try:
            async with self._sessions.begin() as db:
                await db.execute(statement, [row])
        except Exception:
            log.exception("could not store transcript message %s", row["id"])
