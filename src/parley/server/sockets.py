"""Starlette's WebSocket as the dialects' `Socket`."""

from __future__ import annotations

import contextlib

from fastapi import WebSocket


class StarletteSocket:
    """Starlette's WebSocket as the dialects' `Socket`."""

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket
        self._gone = False

    async def receive(self) -> str | bytes | None:
        if self._gone:
            return None
        try:
            message = await self._ws.receive()
        except RuntimeError:  # the socket was closed on our side
            self._gone = True
            return None
        if message["type"] == "websocket.disconnect":
            self._gone = True
            return None
        data = message.get("bytes")
        return data if data is not None else message.get("text") or ""

    async def send(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            await self._ws.send_bytes(data)
        else:
            await self._ws.send_text(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        with contextlib.suppress(Exception):
            await self._ws.close(code, reason)
