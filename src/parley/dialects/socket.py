"""The slice of a WebSocket a dialect uses; the server adapts Starlette's to it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

# Handles a binary frame in place, without awaiting; False declines it (`receive` returns it).
Take = Callable[[bytes], bool]


class Socket(Protocol):
    async def receive(self, take: Take | None = None) -> str | bytes | None:
        """The next frame, or None once the peer has gone.

        While it waits, a server may offer binary frames to `take` instead (saving a task
        wake-up per audio frame); a frame `take` accepts is not returned. Frames still come
        in the order sent: one is offered only when nothing is waiting ahead of it. A socket
        may ignore `take` and return every frame."""

    async def send(self, data: str | bytes) -> None:
        """Send a frame; raises if the peer has gone."""

    def send_now(self, data: str | bytes) -> bool:
        """Send a frame in place, without awaiting, if the server can (the connection open
        and its write buffer not full); False: not sent, `send` it. Saves the writer task's
        wake-up and the ASGI layers per frame. A socket may always answer False."""

    async def close(self, code: int = 1000, reason: str = "") -> None: ...
