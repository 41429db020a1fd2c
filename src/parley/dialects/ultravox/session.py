"""One connection at an Ultravox call's `joinUrl` (the `serverWebSocket` medium).

The URL is the credential and the call was configured when it was created, so the session
starts at once: `call_started`, then audio both ways as binary s16le PCM frames and data
messages as text frames (`messages.py`). Malformed or unknown messages get an `error` data
message and the call goes on. When the call ends the socket is closed with the Ultravox end
reason (`hangup`, `agent_hangup`, `timeout`, …) as the close reason.
"""

from __future__ import annotations

import logging

from parley.dialects.connection import Connection
from parley.dialects.host import Admission, SessionHost, SessionOptions, SessionRefused
from parley.dialects.limits import Limits, too_large
from parley.dialects.socket import Socket
from parley.dialects.ultravox import messages
from parley.dialects.ultravox.plan import muted_messages, session_options
from parley.engine.events import AgentAudio, Ended, EndReason, Event, UserAudio

log = logging.getLogger("parley.dialects")

# The engine's end reasons as Ultravox's.
END_REASONS: dict[str, str] = {
    "stop": "hangup",
    "disconnect": "hangup",
    "agent_hangup": "agent_hangup",
    "transfer": "agent_hangup",  # a phone call handed on: the agent ended its part
    "inactivity": "agent_hangup",
    "max_duration": "timeout",
    "max_turns": "timeout",
    "timeout": "timeout",
    "unjoined": "unjoined",
    "agent_deleted": "system_error",
    "server_shutdown": "system_error",
    "error": "system_error",
}


def end_reason(reason: EndReason | str | None) -> str | None:
    return None if reason is None else END_REASONS.get(reason, "system_error")


class UltravoxSession:
    def __init__(
        self, socket: Socket, host: SessionHost, admission: Admission, limits: Limits, debug: bool
    ) -> None:
        self._socket = socket
        self._host = host
        self._admission = admission
        self._limits = limits
        self._conn = Connection(socket, host, limits, self._error)
        self._debug = debug
        self._renderer = messages.Renderer(debug=debug)

    async def run(self) -> None:
        await self._conn.serve(self._serve)

    async def _serve(self) -> None:
        try:
            options = self._options()
            live = await self._host.open(self._admission, options, self._emit, "ultravox")
        except SessionRefused as refusal:
            self._conn.outbox.put(messages.error(refusal.code, refusal.message))
            self._conn.outbox.close_after_pending(1008, refusal.message[:120])
            return
        self._send("call_started", callId=live.session_id)
        self._conn.start(live, options.input_format)
        take = self._conn.taker(self._audio)
        while (data := await self._socket.receive(take)) is not None:
            try:
                await self._frame(data)
            except Exception:
                log.exception("could not handle an Ultravox frame")
                self._error("internal_error", "the server could not handle that message")
            if self._conn.done:
                return
        self._conn.disconnected()

    def _options(self) -> SessionOptions:
        try:
            start = self._admission.prepared or {}
            self._renderer = messages.Renderer(debug=self._debug, off=muted_messages(start))
            return session_options(start)
        except (KeyError, TypeError, ValueError) as exc:  # not a call's stored configuration
            log.warning("cannot join call %s: %s", self._admission.session_id, exc)
            raise SessionRefused("session_unavailable", "this call cannot be joined") from exc

    def _audio(self, data: bytes) -> UserAudio | None:
        """Binary audio up to its delivery: in the handler's turn, or in place as soon as it
        arrives (`Connection.taker`)."""
        limit = self._limits.max_frame_bytes
        if too_large(data, limit):
            self._error("frame_too_large", f"frames may be at most {limit} bytes")
            return None
        return UserAudio(data) if self._conn.admit_audio(data) else None

    async def _frame(self, data: str | bytes) -> None:
        live = self._conn.live
        assert live is not None
        if isinstance(data, bytes):
            if (audio := self._audio(data)) is not None:
                await live.conversation.deliver(audio)
            return
        limit = self._limits.max_frame_bytes
        if too_large(data, limit):
            self._error("frame_too_large", f"frames may be at most {limit} bytes")
            return
        if not self._conn.admit_message():
            return
        parsed = messages.parse(data, self._limits)
        if isinstance(parsed, messages.ProtocolError):
            self._error(parsed.code, parsed.message)
        elif isinstance(parsed, messages.Ping):
            self._send("pong", timestamp=parsed.timestamp)
        else:
            await live.conversation.deliver(parsed)

    def _emit(self, event: Event) -> None:
        if isinstance(event, AgentAudio):
            self._conn.outbox.put(event.data)
            return
        for frame in self._renderer.render(event):
            self._conn.outbox.put(frame)
        if isinstance(event, Ended):
            self._conn.outbox.close_after_pending(1000, end_reason(event.reason) or "")

    def _send(self, kind: str, **fields: object) -> None:
        if kind not in self._renderer.off:
            self._conn.outbox.put(messages.message(kind, **fields))

    def _error(self, code: str, message: str, fatal: bool = False) -> None:
        self._conn.outbox.put(messages.error(code, message))
