"""One Twilio Media Stream: a phone call's audio both ways (docs/protocols/twilio.md).

Twilio opens the socket (at a URL naming the call's session) after the voice webhook's TwiML
told it to, and announces the call in `start`, whose custom parameters carry the one-call
token the webhook minted for that session; the session opens then. Caller audio is μ-law
8 kHz in `media` messages; the agent's goes back the same way, each batch followed by a
`mark` whose echo says it has played (`marks.py`), so a barge-in cuts the transcript where
the caller really stopped hearing. A barge-in sends
`clear`, which drops what Twilio still buffers. Keys pressed are `KeyPress` commands.

How a call ends: Twilio's `stop` (the caller hung up) ends the session; a session that ends
otherwise (the agent hung up or transferred, a limit) sends a last mark, waits until it has
played (the goodbye is heard to its end), has Twilio end or transfer the call through its
REST API (`CallControl`), then closes the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from parley.audio.formats import AudioFormat
from parley.dialects.connection import POLICY_CLOSE, Connection
from parley.dialects.host import SessionHost, SessionOptions, SessionRefused
from parley.dialects.limits import Limits, too_large
from parley.dialects.socket import Socket
from parley.dialects.twilio import messages
from parley.dialects.twilio.marks import PlayedMarks
from parley.engine.events import (
    AgentAudio,
    AgentPaused,
    Ended,
    Event,
    Interrupted,
    KeyPress,
    PlaybackProgress,
    Stop,
    UserAudio,
)
from parley.engine.plan import Opening

log = logging.getLogger("parley.dialects")

MULAW_8K = AudioFormat("mulaw", 8000)
END_MARK = "end"
GOODBYE_WAIT_S = 5.0  # the longest the last words may take to play before the call ends
CONTROL_WAIT_S = 15.0  # Twilio's REST API answering the hang-up or transfer


class CallControl(Protocol):
    """What the server does to a call through Twilio's REST API (errors are logged there)."""

    async def hang_up(self, account_id: str, call_sid: str) -> None: ...

    async def transfer(self, account_id: str, call_sid: str, to: str) -> None: ...


class TwilioSession:
    def __init__(
        self,
        socket: Socket,
        host: SessionHost,
        limits: Limits,
        control: CallControl,
        session_id: str,
    ) -> None:
        self._session_id = session_id  # the call the stream's URL names
        self._socket = socket
        self._host = host
        self._limits = limits
        self._control = control
        self._conn = Connection(socket, host, limits, self._error)
        self._marks = PlayedMarks()
        self._stream_sid = ""
        self._call_sid = ""
        self._account_id = ""
        self._caller_gone = False  # Twilio said `stop`: nothing to end through the API
        self._goodbye_played = asyncio.Event()
        self._ending: asyncio.Task[None] | None = None

    async def run(self) -> None:
        try:
            await self._conn.serve(self._serve)
        finally:
            if self._ending is not None and not self._ending.done():
                self._ending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._ending

    async def _serve(self) -> None:
        start = await self._await_start()
        if start is None or not await self._open(start):
            return
        while (data := await self._socket.receive()) is not None:
            try:
                await self._frame(data)
            except Exception:
                log.exception("could not handle a Twilio frame")
            if self._conn.done:
                return
        self._conn.disconnected()

    async def _await_start(self) -> messages.Start | None:
        """Frames until `start` (`connected` comes first); None if the socket closes."""
        while (data := await self._socket.receive()) is not None:
            if isinstance(data, bytes) or too_large(data, self._limits.max_frame_bytes):
                self._error("invalid_message", "Twilio sends JSON text frames")
                continue
            parsed = messages.parse(data, self._limits.max_json_depth)
            if isinstance(parsed, messages.Start):
                return parsed
            if isinstance(parsed, messages.ProtocolError):
                self._error(parsed.code, parsed.message)
            if self._conn.done:
                return None
        return None

    async def _open(self, start: messages.Start) -> bool:
        self._stream_sid, self._call_sid = start.stream_sid, start.call_sid
        try:
            token = start.parameters.get("token", "")
            if not token:
                raise SessionRefused("unauthorized", "the stream's parameters carry no token")
            admission = await self._host.admit(token)
            if admission.dialect != "twilio" or admission.session_id != self._session_id:
                raise SessionRefused("unauthorized", "this token is not for this call")
            prepared = admission.prepared or {}
            if prepared.get("call_sid") not in (None, start.call_sid):
                raise SessionRefused("unauthorized", "this token is for another call")
            options = SessionOptions(
                input_format=MULAW_8K,
                output_format=MULAW_8K,
                opening=Opening("listen") if prepared.get("callee_first") else None,
            )
            live = await self._host.open(admission, options, self._emit, "twilio")
        except SessionRefused as refusal:
            log.warning("refused Twilio stream for call %s: %s", start.call_sid, refusal.message)
            self._conn.outbox.close_after_pending(POLICY_CLOSE, refusal.message[:120])
            return False
        self._account_id = admission.account_id
        self._conn.start(live, MULAW_8K)
        return True

    async def _frame(self, data: str | bytes) -> None:
        live = self._conn.live
        assert live is not None
        if isinstance(data, bytes) or too_large(data, self._limits.max_frame_bytes):
            self._error("invalid_message", "Twilio sends JSON text frames")
            return
        parsed = messages.parse(data, self._limits.max_json_depth)
        if isinstance(parsed, messages.Media):
            if self._conn.admit_audio(parsed.payload):
                await live.conversation.deliver(UserAudio(parsed.payload))
        elif isinstance(parsed, messages.ProtocolError):
            self._error(parsed.code, parsed.message)
        elif not self._conn.admit_message():
            return
        elif isinstance(parsed, messages.Mark):
            self._played(parsed.name)
        elif isinstance(parsed, messages.Dtmf):
            live.conversation.submit(KeyPress(parsed.digit))
        elif isinstance(parsed, messages.StreamStopped):
            self._caller_gone = True
            live.conversation.submit(Stop("stop"))

    def _played(self, name: str) -> None:
        if name == END_MARK:
            self._goodbye_played.set()
            return
        played_ms = self._marks.echoed(name)
        if played_ms is not None and self._conn.live is not None:
            self._conn.live.conversation.submit(PlaybackProgress(played_ms))

    def _emit(self, event: Event) -> None:
        outbox = self._conn.outbox
        if isinstance(event, AgentAudio):
            outbox.put(messages.media(self._stream_sid, event.data))
            name = self._marks.sent(MULAW_8K.ms_for_bytes(len(event.data)))
            outbox.put(messages.mark(self._stream_sid, name))
        elif isinstance(event, Interrupted | AgentPaused):  # a pause's audio is sent again
            outbox.put(messages.clear(self._stream_sid))
            self._marks.clear()
        elif isinstance(event, Ended):
            if self._caller_gone:
                outbox.close_after_pending(1000, event.reason)
            else:
                outbox.put(messages.mark(self._stream_sid, END_MARK))
                self._ending = asyncio.create_task(self._end_call(event), name="twilio-end")

    async def _end_call(self, ended: Ended) -> None:
        """Let the last words play, have Twilio end (or transfer) the call, then close."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._goodbye_played.wait(), GOODBYE_WAIT_S)
        try:
            async with asyncio.timeout(CONTROL_WAIT_S):
                if ended.reason == "transfer" and ended.transfer_to:
                    await self._control.transfer(
                        self._account_id, self._call_sid, ended.transfer_to
                    )
                elif not self._caller_gone:
                    await self._control.hang_up(self._account_id, self._call_sid)
        except TimeoutError:
            log.warning("Twilio did not answer the end of call %s in time", self._call_sid)
        self._conn.outbox.close_after_pending(1000, ended.reason)

    def _error(self, code: str, message: str, fatal: bool = False) -> None:
        """Twilio has no error message to send: a bad frame is logged, and the call goes on."""
        log.warning("Twilio stream %s: %s: %s", self._stream_sid or "(not started)", code, message)
