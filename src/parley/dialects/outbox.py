"""Frames on their way to a client: a bounded queue drained by one writer task.

The engine emits events synchronously; they are rendered to frames and queued here, and a
single task writes them to the socket in order. A client that stops reading is treated as
gone, before it can grow memory: when frames have waited `stall_s` without one being
written, or the queue reaches `MAX_FRAMES` (tens of seconds of audio), whichever is first.
A slow reader that keeps reading makes progress and is not cut off.

A frame put while the writer is parked on an empty queue (nothing earlier still unsent) is
offered to the socket's `send_now` first: written in place, it costs no wake-up of the
writer and no trip through the ASGI layers. Declined, it queues as any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from parley.dialects.socket import Socket
from parley.engine.mailbox import Mailbox

log = logging.getLogger("parley.dialects")

MAX_FRAMES = 2048
STALL_SECONDS = 10.0
_CLOSE = object()


def _nothing() -> None:
    pass


class Outbox:
    def __init__(
        self, socket: Socket, on_overflow: Callable[[], None], stall_s: float = STALL_SECONDS
    ) -> None:
        self._socket = socket
        self._on_overflow = on_overflow
        self._stall_s = stall_s
        self._queue: Mailbox[str | bytes | object] = Mailbox()
        self._loop = asyncio.get_running_loop()
        self._progress_at = self._loop.time()  # the last write, or when the queue was empty
        self._task = asyncio.create_task(self._run(), name="parley-outbox")
        self._overflowed = False
        self.closed = False

    def put(self, data: str | bytes) -> None:
        if self.closed:
            return
        now = self._loop.time()
        if self._queue.idle and self._socket.send_now(data):
            self._progress_at = now
            return
        if not self._queue:
            self._progress_at = now
        elif now - self._progress_at > self._stall_s:
            self._overflow(f"nothing written for {self._stall_s:.0f} s")
            return
        if len(self._queue) >= MAX_FRAMES:
            self._overflow(f"{MAX_FRAMES} frames waiting")
            return
        self._queue.put(data)

    def _overflow(self, why: str) -> None:
        if not self._overflowed:
            self._overflowed = True
            log.warning("client is not reading (%s); dropping the connection", why)
            self._on_overflow()

    def close_after_pending(self, code: int = 1000, reason: str = "") -> None:
        """Send what is queued, then close the socket."""
        if self.closed:
            return
        self.closed = True
        self._close_args = (code, reason)
        self._queue.put(_CLOSE)

    async def wait(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def cancel(self) -> None:
        self._task.cancel()
        await self.wait()

    def let_go(self) -> None:
        """After `cancel`: forget the connection's callback (a reference back to it)."""
        self.closed = True
        self._on_overflow = _nothing

    async def _run(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if item is _CLOSE:
                    await self._socket.close(*self._close_args)
                    return
                assert isinstance(item, str | bytes)
                await self._socket.send(item)
                self._progress_at = self._loop.time()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the peer went away mid-write
            log.debug("stopped writing to the client: %s", exc)
            self.closed = True
