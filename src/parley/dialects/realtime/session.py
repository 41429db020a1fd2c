"""One OpenAI Realtime connection (docs/protocols/realtime.md), GA or beta.

`session.created` at once, then client events until the conversation ends. The engine's
session opens lazily, at the first event that needs it (audio, an item, a response), so a
client's `session.update`s before that may still choose the audio formats and the voice;
after it, those fields are refused with an `error` and everything else changes live.

No client event can end the session: a bad one gets OpenAI's `error` event (with the
`event_id` it answers and the `param` at fault) and the next is read; one that fails in a
way nobody foresaw gets a `server_error`. Only the host's refusal to open (the server full,
the account at its limit, an unknown agent) closes the socket, after saying why.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from parley.dialects.connection import POLICY_CLOSE, TRY_AGAIN_LATER, Connection
from parley.dialects.frames import ProtocolError, typed_frame
from parley.dialects.host import (
    Admission,
    AgentOverrides,
    LiveSession,
    SessionHost,
    SessionOptions,
    SessionRefused,
)
from parley.dialects.limits import Limits, too_large
from parley.dialects.realtime import config as realtime_config
from parley.dialects.realtime.client_events import HANDLERS, ClientEvents
from parley.dialects.realtime.config import SessionConfig
from parley.dialects.realtime.errors import InvalidEvent
from parley.dialects.realtime.render import Renderer
from parley.dialects.realtime.shape import session_object
from parley.dialects.realtime.turns import function_tools, turn_taking
from parley.dialects.socket import Socket
from parley.engine.events import (
    Ended,
    Event,
    Reconfigure,
    SetOutputMedium,
    UserStoppedSpeaking,
)
from parley.engine.plan import Opening

log = logging.getLogger("parley.dialects")

SESSION_SECONDS = 3600  # what `expires_at` promises; the agent's own limits end it sooner
START_TIMEOUT_S = 60.0  # a Realtime client may connect well before it has anything to say
_BUSY = ("server_busy", "shutting_down")


class RealtimeSession:
    def __init__(
        self,
        socket: Socket,
        host: SessionHost,
        admission: Admission,
        limits: Limits,
        *,
        model: str,
        beta: bool,
        session_id: str,
    ) -> None:
        self._socket = socket
        self._host = host
        self._admission = admission
        self.limits = dataclasses.replace(
            limits, start_timeout_s=max(limits.start_timeout_s, START_TIMEOUT_S)
        )
        self.conn = Connection(socket, host, self.limits, self._report)
        self.beta = beta
        self.session_id = session_id
        self.config = SessionConfig(model=model)
        self.render = Renderer(
            self.conn.outbox.put, beta=beta, output_format=self.config.output_format
        )
        self.render.headroom = self.conn.message_headroom
        self.buffer_ms = 0.0  # caller audio since the last commit or clear
        self._expires_at = int(time.time()) + SESSION_SECONDS
        self._events = ClientEvents(self)
        self._refused = False

    async def run(self) -> None:
        prepared = self._admission.prepared or {}
        if isinstance(prepared.get("session"), dict):  # a client secret's session
            self.config = realtime_config.updated(
                self.config,
                prepared["session"],
                bool(prepared.get("beta")),
                self.limits.max_prompt_chars,
            )
        self._sync()
        self.render.emit("session.created", session=self._session())
        await self.conn.serve(self._converse)

    async def _converse(self) -> None:
        while (data := await self._socket.receive()) is not None:
            await self._frame(data)
            if self.conn.done:
                return
        self.conn.disconnected()

    async def _frame(self, data: str | bytes) -> None:
        limit = self.limits.max_frame_bytes
        if too_large(data, limit):
            self.render.error(f"events may be at most {limit} bytes", code="event_too_large")
            return
        if isinstance(data, bytes):
            self.render.error(
                "binary frames are not part of the Realtime protocol: send audio with "
                "input_audio_buffer.append",
                code="invalid_event",
            )
            return
        parsed = typed_frame(data, self.limits.max_json_depth, 'an event: {"type": …}')
        if isinstance(parsed, ProtocolError):
            self.render.error(parsed.message, code=parsed.code)
            return
        event_id = parsed.get("event_id") if isinstance(parsed.get("event_id"), str) else None
        kind = parsed["type"]
        try:
            await self._dispatch(kind, parsed)
        except InvalidEvent as bad:
            self.render.error(
                bad.message, code=bad.code, param=bad.param, event_id=event_id, kind=bad.kind
            )
        except _Refused:
            return
        except Exception:
            log.exception("could not handle a Realtime %s event", kind[:80])
            self.render.error(
                "the server could not handle that event",
                code="internal_error",
                event_id=event_id,
                kind="server_error",
            )

    async def _dispatch(self, kind: str, parsed: dict[str, Any]) -> None:
        if kind == "input_audio_buffer.append":  # audio is metered as audio, below
            await self._events.append(parsed)
            return
        if not self.conn.admit_message():
            return
        if kind == "session.update":
            await self._update(parsed.get("session"))
            return
        name = HANDLERS.get(kind)
        if name is None:
            raise InvalidEvent(
                f"Invalid value: '{kind[:80]}'. Not a client event.", "type", "invalid_event"
            )
        await getattr(self._events, name)(parsed)

    # The session's configuration ------------------------------------------------------------

    async def _update(self, session: Any) -> None:
        before = self.config
        after = realtime_config.updated(before, session, self.beta, self.limits.max_prompt_chars)
        tools = function_tools(after.tools)  # checked now, though used at the open
        live = self.conn.live
        if live is not None:
            await self._apply(live, before, after, tools)
        self.config = after
        self._sync()
        self.render.emit("session.updated", session=self._session())

    async def _apply(
        self, live: LiveSession, before: SessionConfig, after: SessionConfig, tools: list[Any]
    ) -> None:
        """A live session's changes, as engine commands; fixed fields are refused first."""
        fixed = {
            "audio.input.format": (before.input_format, after.input_format),
            "audio.output.format": (before.output_format, after.output_format),
            "audio.output.voice": (before.voice, after.voice),
            "temperature": (before.temperature, after.temperature),
            "max_output_tokens": (before.max_output_tokens, after.max_output_tokens),
        }
        for name, (old, new) in fixed.items():
            if old != new:
                raise InvalidEvent(
                    f"{name} cannot change once the conversation has started", f"session.{name}"
                )
        conversation = live.conversation
        if after.instructions != before.instructions:
            conversation.submit(Reconfigure(system_prompt=after.instructions or ""))
        if (after.tools, after.tool_choice) != (before.tools, before.tool_choice):
            none = after.tool_choice == "none"
            change, _ = await self._host.rebuild(
                live, tools=[] if none else None, more_tools=[] if none else tools
            )
            conversation.submit(change)
        if after.turn_detection != before.turn_detection:
            conversation.submit(turn_taking(after.turn_detection, vad=True))
        if after.text_only != before.text_only:
            conversation.submit(SetOutputMedium(text=after.text_only))

    def _session(self) -> dict[str, Any]:
        return session_object(
            self.config, beta=self.beta, session_id=self.session_id, expires_at=self._expires_at
        )

    def _sync(self) -> None:
        """What the renderer needs to know of the configuration."""
        render, config = self.render, self.config
        render.text_only = config.text_only
        render.output_format = config.output_format
        detection = config.turn_detection
        render.caller.auto_turns = detection is not None
        if detection is not None:
            render.caller.silence_ms = float(detection.vad()["endpoint_ms"])

    # The engine's session ---------------------------------------------------------------------

    async def live(self) -> LiveSession:
        """The engine's session, opened now if it is not yet."""
        if self.conn.live is not None:
            return self.conn.live
        if self._refused:
            raise _Refused
        config = self.config
        tools = function_tools(config.tools)
        none = config.tool_choice == "none"
        options = SessionOptions(
            input_format=config.input_format,
            output_format=config.output_format,
            agent_id=self.config.model if self.config.model.startswith("agt_") else None,
            session_id=self.session_id,
            system_prompt=config.instructions or None,
            opening=Opening("listen"),  # a Realtime model speaks when it is asked to
            text_output=config.text_only,
            vad=config.turn_detection.vad() if config.turn_detection else None,
            # Realtime has no "drop what you have not played" without ending the response:
            # a paused agent only stops sending
            pause_clears=False,
            live_turn_taking=True,  # a session.update may turn semantic_vad on
            overrides=AgentOverrides(
                tools=[] if none else None,
                more_tools=[] if none else tools,
                temperature=config.temperature,
                voice_id=config.voice,
                max_tokens=config.max_output_tokens,
            ),
        )
        try:
            live = await self._host.open(self._admission, options, self._emit, "realtime")
        except SessionRefused as refusal:
            self._refuse(refusal.code, refusal.message)
            raise _Refused from None
        for note in live.warnings:
            log.info("realtime session %s: %s", live.session_id, note)
        self.conn.start(live, config.input_format)
        live.conversation.submit(turn_taking(config.turn_detection, vad=False))
        return live

    def _emit(self, event: Event) -> None:
        if isinstance(event, UserStoppedSpeaking):
            self.buffer_ms = 0.0  # the buffer was committed
        self.render.render(event)
        after = self.render.after_response
        if after is not None and self.render.answer is None and self.conn.live is not None:
            self.render.after_response = None  # a response's own modality is over
            self.conn.live.conversation.submit(after)
        if isinstance(event, Ended):
            self.conn.outbox.close_after_pending()

    def _refuse(self, code: str, message: str) -> None:
        self._refused = True
        kind = "server_error" if code in _BUSY else "invalid_request_error"
        self.render.error(message, code=code, kind=kind)
        close = TRY_AGAIN_LATER if code in _BUSY else POLICY_CLOSE
        self.conn.outbox.close_after_pending(close, code)

    def _report(self, code: str, message: str, fatal: bool) -> None:
        """The connection's own errors (rate limits, the start deadline)."""
        self.render.error(message, code=code, kind="invalid_request_error")


class _Refused(Exception):
    """The host refused to open the session; the client has been told and is let go."""
