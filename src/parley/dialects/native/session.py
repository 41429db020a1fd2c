"""One native-dialect connection, from handshake to `ended` (docs/protocols/native.md).

The flow: admit the credential (a wrong one gets a fatal `error` and the socket closes);
wait for `start` (anything else first is an `error`, and the connection stays open for a
correct `start`, until the start deadline); open the session with the host and run the
conversation; translate frames to commands and events to frames until the conversation ends,
then send `ended` and close. If the client vanishes, the conversation ends with reason
`disconnect` and keeps everything said so far. No frame can take the connection down: one
that fails in a way nobody foresaw gets an `internal_error` and the next frame is read.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from parley.dialects.connection import POLICY_CLOSE, TRY_AGAIN_LATER, Connection
from parley.dialects.host import Admission, SessionHost, SessionOptions, SessionRefused
from parley.dialects.limits import Limits, too_large
from parley.dialects.native import messages
from parley.dialects.native.start import StartPayload
from parley.dialects.socket import Socket
from parley.engine.events import Ended, Event, UserAudio
from parley.validation import describe_errors

log = logging.getLogger("parley.dialects")

UNAUTHORIZED_CLOSE = 4401
TRY_LATER = ("server_busy", "shutting_down")


# What a session reads and uses on the account's behalf: a browser holding only a session
# token must not widen it to the account's other documents or secrets.
CHOSEN_WITH_THE_KEY = ("knowledge_ids", "page_ids", "file_ids", "secret_ids")


class NativeSession:
    def __init__(
        self, socket: Socket, host: SessionHost, credential: str | None, limits: Limits
    ) -> None:
        self._socket = socket
        self._host = host
        self._credential = credential
        self._limits = limits
        self._conn = Connection(socket, host, limits, self._error)
        self._binary = False
        self._transcripts = {"user": True, "agent": True}

    async def run(self) -> None:
        await self._conn.serve(self._serve)

    async def _serve(self) -> None:
        admission = await self._admit()
        if admission is not None:
            await self._converse(admission)

    async def _admit(self) -> Admission | None:
        if not self._credential:
            self._refuse("unauthorized", "missing token: connect to /ws/voice?token=…")
            return None
        try:
            return await self._host.admit(self._credential)
        except SessionRefused as refusal:
            self._refuse(refusal.code, refusal.message)
            return None

    def _refuse(self, code: str, message: str) -> None:
        self._conn.outbox.put(messages.error(code, message, fatal=True))
        close = {"unauthorized": UNAUTHORIZED_CLOSE, **dict.fromkeys(TRY_LATER, TRY_AGAIN_LATER)}
        self._conn.outbox.close_after_pending(close.get(code, POLICY_CLOSE), code)

    async def _converse(self, admission: Admission) -> None:
        take = self._conn.taker(self._audio)
        while (data := await self._socket.receive(take)) is not None:
            try:
                await self._frame(admission, data)
            except Exception:
                log.exception("could not handle a native frame")
                self._error("internal_error", "the server could not handle that message")
            if self._conn.done:
                return
        self._conn.disconnected()

    def _audio(self, data: bytes) -> UserAudio | None:
        """A binary frame up to its delivery: in the handler's turn, or in place as soon as
        it arrives (`Connection.taker`)."""
        limit = self._limits.max_frame_bytes
        if too_large(data, limit):
            self._error("frame_too_large", f"frames may be at most {limit} bytes")
        elif self._conn.live is None:
            self._error("not_started", "send a start message first")
        elif self._conn.admit_audio(data):
            return UserAudio(data)
        return None

    async def _frame(self, admission: Admission, data: str | bytes) -> None:
        if isinstance(data, bytes):
            if (audio := self._audio(data)) is not None and self._conn.live is not None:
                await self._conn.live.conversation.deliver(audio)
            return
        limit = self._limits.max_frame_bytes
        if too_large(data, limit):
            self._error("frame_too_large", f"frames may be at most {limit} bytes")
            return
        parsed = messages.parse(data, self._limits)
        if isinstance(parsed, messages.ProtocolError):
            self._error(parsed.code, parsed.message)
        elif not self._conn.admit_message():
            return
        elif isinstance(parsed, messages.StartRequest):
            await self._start(admission, parsed.payload)
        elif self._conn.live is None:
            self._error("not_started", "send a start message first")
        else:
            await self._conn.live.conversation.deliver(parsed)

    async def _start(self, admission: Admission, payload: dict[str, Any]) -> None:
        if self._conn.live is not None:
            self._error("already_started", "this session has already started")
            return
        prepared = admission.prepared or {}
        for key in ("agent_id", "conversation_id"):
            if key in prepared and payload.get(key) not in (None, prepared[key]):
                self._error("invalid_start", f"{key} differs from the prepared session's")
                return
        if admission.session_id is not None:  # a session token: what it may read was chosen
            for key in CHOSEN_WITH_THE_KEY:  # by whoever holds the API key, when preparing
                if key in payload and payload[key] != prepared.get(key, []):
                    self._error(
                        "invalid_start",
                        f"{key}: a session token carries the {key} it was prepared with; "
                        "name them when preparing it (POST /v1/voice) or connect with an API key",
                    )
                    return
        try:
            start = StartPayload.model_validate({**prepared, **payload})
        except ValidationError as exc:
            self._error("invalid_start", describe_errors(exc.errors()))
            return
        self._binary = start.binary_audio
        self._transcripts = {
            "user": start.voice_config.input_transcription,
            "agent": start.voice_config.output_transcription,
        }
        options = SessionOptions(
            input_format=start.audio.input.format(),
            output_format=start.audio.output.format(),
            agent_id=start.agent_id,
            conversation_id=start.conversation_id,
            system_prompt=start.config.system_prompt if start.config else None,
            initial_message=start.initial_message,
            initial_context=start.initial_context,
            ephemeral=start.ephemeral,
            lifecycle=start.lifecycle.model_dump(exclude_unset=True) if start.lifecycle else None,
            record=start.record,
            text_output=start.output_medium == "text",
            knowledge_ids=[*start.knowledge_ids, *start.page_ids],
            file_ids=list(start.file_ids),
            secret_ids=list(start.secret_ids),
        )
        try:
            live = await self._host.open(admission, options, self._emit, "native")
        except SessionRefused as refusal:
            self._refuse(refusal.code, refusal.message)
            return
        self._conn.outbox.put(
            messages.frame(
                "started", {"session_id": live.session_id, "conversation_id": live.conversation_id}
            )
        )
        self._conn.start(live, options.input_format)

    def _emit(self, event: Event) -> None:
        rendered = messages.render(event, binary_audio=self._binary, transcripts=self._transcripts)
        if rendered is not None:
            self._conn.outbox.put(rendered)
        if isinstance(event, Ended):
            self._conn.outbox.close_after_pending()

    def _error(self, code: str, message: str, fatal: bool = False) -> None:
        self._conn.outbox.put(messages.error(code, message, fatal=fatal))
