"""Frames on their way to a client: a bounded queue drained by one writer task.

The engine emits events synchronously; they are rendered to frames and queued here, and a
single task writes them to the socket in order. A client that stops reading fills the queue
(`MAX_FRAMES`, several seconds of audio) and is treated as gone, rather than growing memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from parley.dialects.socket import Socket

log = logging.getLogger("parley.dialects")

MAX_FRAMES = 2048
_CLOSE = object()


class Outbox:
    def __init__(self, socket: Socket, on_overflow: Callable[[], None]) -> None:
        self._socket = socket
        self._on_overflow = on_overflow
        self._queue: asyncio.Queue[str | bytes | object] = asyncio.Queue(MAX_FRAMES)
        self._task = asyncio.create_task(self._run(), name="parley-outbox")
        self._overflowed = False
        self.closed = False

    def put(self, data: str | bytes) -> None:
        if self.closed:
            return
        try:
            self._queue.put_nowait(data)
        except asyncio.QueueFull:
            if not self._overflowed:
                self._overflowed = True
                log.warning("client is not reading; dropping the connection")
                self._on_overflow()

    def close_after_pending(self, code: int = 1000, reason: str = "") -> None:
        """Send what is queued, then close the socket."""
        if self.closed:
            return
        self.closed = True
        self._close_args = (code, reason)
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(_CLOSE)

    async def wait(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def cancel(self) -> None:
        self._task.cancel()
        await self.wait()

    async def _run(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if item is _CLOSE:
                    await self._socket.close(*self._close_args)
                    return
                assert isinstance(item, str | bytes)
                await self._socket.send(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the peer went away mid-write
            log.debug("stopped writing to the client: %s", exc)
            self.closed = True
