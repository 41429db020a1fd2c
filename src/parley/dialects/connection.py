"""What every dialect's connection shares: the outbox, the live session, its actor task.

A dialect parses and renders; this owns the lifecycle around it. When the client stops
reading or goes away, the conversation hears `Disconnected` (and stores what was said);
at the end the conversation is awaited, the host told, pending frames flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from parley.dialects.host import LiveSession, SessionHost
from parley.dialects.outbox import Outbox
from parley.dialects.socket import Socket
from parley.engine.events import Disconnected

log = logging.getLogger("parley.dialects")

FLUSH_SECONDS = 5.0


class Connection:
    def __init__(self, socket: Socket, host: SessionHost) -> None:
        self.host = host
        self.outbox = Outbox(socket, self._client_not_reading)
        self.live: LiveSession | None = None
        self._task: asyncio.Task[Any] | None = None

    def start(self, live: LiveSession) -> None:
        self.live = live
        self._task = asyncio.create_task(
            live.conversation.run(), name=f"conversation-{live.session_id}"
        )

    def disconnected(self) -> None:
        if self.live is not None:
            self.live.conversation.submit(Disconnected())

    def _client_not_reading(self) -> None:
        self.disconnected()
        self.outbox.close_after_pending(1011, "client not reading")

    async def finish(self) -> None:
        if self._task is not None:
            try:
                await self._task
            except Exception:
                log.exception("conversation task failed")
        if self.live is not None:
            await self.host.closed(self.live)
        self.outbox.close_after_pending()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.outbox.wait(), FLUSH_SECONDS)
        await self.outbox.cancel()
