"""Starlette's WebSocket as the dialects' `Socket`, and the limits every socket gets."""

from __future__ import annotations

import contextlib
import contextvars

from fastapi import WebSocket

from parley.config import Settings
from parley.dialects.limits import Limits
from parley.dialects.socket import Take
from parley.server.frame_tap import frame_tap


def connection_limits(settings: Settings) -> Limits:
    return Limits(
        max_frame_bytes=settings.max_frame_bytes,
        max_json_depth=settings.max_json_depth,
        max_text_chars=settings.max_text_chars,
        max_prompt_chars=settings.max_prompt_chars,
        messages_per_second=settings.messages_per_second,
        message_burst=settings.message_burst,
        audio_burst_ms=settings.audio_burst_ms,
        audio_frames_per_second=settings.audio_frames_per_second,
        start_timeout_s=settings.start_timeout,
        client_stall_s=settings.client_stall_timeout,
    )


def _in_this_context(take: Take) -> Take:
    """`take`, run in the current task's context variables (its session's log fields)
    wherever it is called: as the handler itself would take the frame."""
    context = contextvars.copy_context()

    def taken_here(data: bytes) -> bool:
        return context.run(take, data)

    return taken_here


class StarletteSocket:
    """Starlette's WebSocket as the dialects' `Socket`; `take` goes on the connection's
    `FrameTap` (server/frame_tap.py) for as long as `receive` waits, and `send_now` is the
    tap's `send`."""

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket
        self._gone = False
        self._tap = frame_tap(websocket.scope)

    async def receive(self, take: Take | None = None) -> str | bytes | None:
        if self._gone:
            return None
        tap = self._tap
        try:
            if tap is not None and take is not None:
                tap.take = _in_this_context(take)
            message = await self._ws.receive()
        except RuntimeError:  # the socket was closed on our side
            self._gone = True
            return None
        finally:
            if tap is not None:
                tap.take = None
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

    def send_now(self, data: str | bytes) -> bool:
        tap = self._tap
        return tap is not None and not self._gone and tap.send(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        with contextlib.suppress(Exception):
            await self._ws.close(code, reason)
