"""Caller audio handled where it arrives, and frames sent where they are made: uvicorn's
sans-I/O WebSocket protocol, less one hop each way.

uvicorn hands every message to the app through an `asyncio.Queue`, pausing the transport's
reading until the app has taken it. For a caller's audio (fifty frames a second) that is, per
frame, a future, a wake-up of the connection's task through five coroutines (uvicorn's,
Starlette's and ours `receive`) and two `epoll_ctl` calls to pause and resume reading: at 100
callers, the largest share of the event loop that was not our own work.

`TappedProtocol` keeps uvicorn's protocol whole and changes one thing. A connection's handler
that waits in `receive` may leave a `take` function on the scope's `FrameTap`; a binary
message that arrives while it waits, with nothing queued ahead of it, is offered to `take`
right there, in the protocol's `data_received`. `take` returns False to decline (the handler
would have had to wait, e.g. a conversation far behind), and the message goes through the
queue as before. Invariants:
- Order: a message is offered only while the queue is empty, so nothing the client sent
  earlier (a text message, a declined frame) is overtaken; once anything is queued, every
  later message queues behind it until the handler has taken them.
- Sameness: `take` is only set while the handler is parked in `receive`, so what `take` does
  happens exactly where the handler would have done it, between two frames; it must do what
  the handler does with a binary frame, without awaiting.
- Text messages, closes and everything uvicorn does besides (handshake, pings, the close
  handshake, backpressure on the queue) are unchanged.

The other way, `FrameTap.send` writes a frame to the transport at once, as uvicorn's ASGI
`send` would, but without its coroutine and the middleware and Starlette layers above
it (at 100 callers, ~11 % of the event loop went there). It declines (False), leaving the
frame to the ordinary `send`, whenever that would not write at once: before the handshake's
answer, after a close, once the client has gone, or while the transport's buffer is over
its high-water mark (uvicorn's `send` would wait). The caller keeps the order: it sends in
place only when nothing it queued earlier is still unsent (dialects/outbox.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.http11 import Request

from parley.dialects.socket import Take

SendNow = Callable[[str | bytes], bool]

EXTENSION = "parley.frame_tap"


class FrameTap:
    """Where a handler waiting for its next message leaves `take` (None: not waiting), and
    the protocol leaves `send`, which writes a frame in place or declines."""

    __slots__ = ("send", "take")

    def __init__(self, send: SendNow) -> None:
        self.take: Take | None = None
        self.send = send


def frame_tap(scope: Any) -> FrameTap | None:
    """The connection's tap, if the server runs `TappedProtocol` (tests' servers may not)."""
    tap = scope.get("extensions", {}).get(EXTENSION)
    return tap if isinstance(tap, FrameTap) else None


def _declined(data: str | bytes) -> bool:
    return False


class TappedProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol with a `FrameTap` on every accepted connection's scope."""

    tap: FrameTap | None = None

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            self.tap = FrameTap(self.send_now)
            scope["extensions"][EXTENSION] = self.tap

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.tap is not None:  # the tap refers back no more: no cycle outlives the call
            self.tap.send = _declined

    def send_now(self, data: str | bytes) -> bool:
        """What `send` does with a `websocket.send` message, when it would not wait."""
        if (
            not self.handshake_complete
            or self.initial_response is not None
            or self.close_sent
            or self.disconnected
            or not self.writable.is_set()
            or self.transport.is_closing()
        ):
            return False
        try:
            if isinstance(data, bytes):
                self.conn.send_binary(data)
            else:
                self.conn.send_text(data.encode())
        except InvalidState:
            return False
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True

    def send_receive_event_to_app(self) -> None:
        tap = self.tap
        if (
            tap is not None
            and tap.take is not None
            and self.curr_msg_data_type == "bytes"
            and not self.close_sent
            and self.queue.empty()
        ):
            frames = self.frames
            data = frames[0] if len(frames) == 1 else b"".join(frames)
            if tap.take(data):
                self.frames = []
                return
        super().send_receive_event_to_app()
