"""Caller audio handled where it arrives: uvicorn's sans-I/O WebSocket protocol, less one hop.

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
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from parley.dialects.socket import Take

EXTENSION = "parley.frame_tap"


class FrameTap:
    """Where a handler waiting for its next message leaves `take` (None: not waiting)."""

    __slots__ = ("take",)

    def __init__(self) -> None:
        self.take: Take | None = None


def frame_tap(scope: Any) -> FrameTap | None:
    """The connection's tap, if the server runs `TappedProtocol` (tests' servers may not)."""
    tap = scope.get("extensions", {}).get(EXTENSION)
    return tap if isinstance(tap, FrameTap) else None


class TappedProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol with a `FrameTap` on every accepted connection's scope."""

    tap: FrameTap | None = None

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            self.tap = FrameTap()
            scope["extensions"][EXTENSION] = self.tap

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
