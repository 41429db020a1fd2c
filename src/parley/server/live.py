"""The conversations running in this process, so that the API can reach them.

Deleting an agent ends its live sessions (`agent_deleted`); shutting the server down ends all
of them. Ending is a command to the conversation's actor: it says goodbye on the wire,
stores what was said and closes, like any other ending.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from parley.dialects.host import LiveSession
from parley.engine.events import EndReason, Stop

log = logging.getLogger("parley.server")


class LiveSessions:
    def __init__(self) -> None:
        self._sessions: dict[str, LiveSession] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        return len(self._sessions)

    def add(self, session: LiveSession) -> None:
        self._sessions[session.session_id] = session
        self._idle.clear()

    def remove(self, session: LiveSession) -> None:
        if self._sessions.get(session.session_id) is session:
            del self._sessions[session.session_id]
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

    async def end_all(self, reason: EndReason, grace_s: float) -> None:
        count = self.end(list(self._sessions), reason)
        if count:
            log.info("ending %d live session(s)", count)
            try:
                await asyncio.wait_for(self._idle.wait(), grace_s)
            except TimeoutError:
                log.warning("%d session(s) did not end within %.0f s", len(self), grace_s)
