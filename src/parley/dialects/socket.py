"""The slice of a WebSocket a dialect uses; the server adapts Starlette's to it."""

from __future__ import annotations

from typing import Protocol


class Socket(Protocol):
    async def receive(self) -> str | bytes | None:
        """The next frame, or None once the peer has gone."""

    async def send(self, data: str | bytes) -> None:
        """Send a frame; raises if the peer has gone."""

    async def close(self, code: int = 1000, reason: str = "") -> None: ...
