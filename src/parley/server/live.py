"""The conversations running in this process, so that the API can reach them.

Deleting an agent ends its live sessions (`agent_deleted`); shutting the server down drains
them: no new session is admitted (`draining`), live ones get a while to finish, then the rest
are ended. Ending is a command to the conversation's actor: it says goodbye on the wire,
stores what was said and closes, like any other ending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import get_args

from parley.dialects.host import LiveSession
from parley.engine.events import EndReason, Stop

log = logging.getLogger("parley.server")
_REASONS = set(get_args(EndReason))


class LiveSessions:
    def __init__(self) -> None:
        self._sessions: dict[str, LiveSession] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self.draining = False  # set once shutdown begins: new sessions are refused
        self.ended = 0  # sessions that have left, ever
        self._leaving: dict[str, asyncio.Event] = {}  # sessions someone waits to see gone

    def __len__(self) -> int:
        return len(self._sessions)

    def add(self, session: LiveSession) -> None:
        self._sessions[session.session_id] = session
        self._idle.clear()

    def remove(self, session: LiveSession) -> None:
        if self._sessions.get(session.session_id) is session:
            del self._sessions[session.session_id]
            self.ended += 1
            if (leaving := self._leaving.pop(session.session_id, None)) is not None:
                leaving.set()
        if not self._sessions:
            self._idle.set()

    def end(self, session_ids: Iterable[str], reason: EndReason) -> int:
        ended = 0
        for session_id in session_ids:
            live = self._sessions.get(session_id)
            if live is not None:
                live.conversation.submit(Stop(reason))
                ended += 1
        return ended

    async def follow_store(
        self, ended_among: Callable[[list[str]], Awaitable[dict[str, str]]], every_s: float = 2.0
    ) -> None:
        """End live sessions that another process ended in the store (an agent deleted
        through another worker). Runs forever; cancel it to stop."""
        while True:
            await asyncio.sleep(every_s)
            try:
                ended = await ended_among(list(self._sessions))
            except Exception:
                log.exception("could not check live sessions against the store")
                continue
            for session_id, reason in ended.items():
                self.end([session_id], reason if reason in _REASONS else "error")  # type: ignore[arg-type]

    async def wait_gone(self, session_id: str, seconds: float) -> None:
        """Until the session has left this process (or `seconds` have passed)."""
        if session_id not in self._sessions:
            return
        leaving = self._leaving.setdefault(session_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(leaving.wait(), seconds)

    def get(self, session_id: str) -> LiveSession | None:
        return self._sessions.get(session_id)

    def ids(self) -> list[str]:
        return list(self._sessions)

    def held(self) -> dict[str, str]:
        """The sessions this process holds, and their accounts."""
        return {i: live.account_id for i, live in self._sessions.items()}

    def end_named(self, session_ids: list[str], reason: str) -> int:
        """`end` for a reason that came from outside (the bus): unknown ones are `error`."""
        return self.end(session_ids, reason if reason in _REASONS else "error")  # type: ignore[arg-type]

    async def drain(self, seconds: float, grace_s: float) -> None:
        """Refuse new sessions, give live ones `seconds` to end, then end the rest."""
        self.draining = True
        if self._sessions:
            log.info("draining: waiting up to %.0f s for %d live session(s)", seconds, len(self))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), seconds)
        await self.end_all("server_shutdown", grace_s)

    async def end_all(self, reason: EndReason, grace_s: float) -> None:
        count = self.end(list(self._sessions), reason)
        if count:
            log.info("ending %d live session(s)", count)
            try:
                await asyncio.wait_for(self._idle.wait(), grace_s)
            except TimeoutError:
                log.warning("%d session(s) did not end within %.0f s", len(self), grace_s)
