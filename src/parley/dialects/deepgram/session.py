"""One Deepgram Voice Agent connection (docs/protocols/deepgram.md), either era.

`Welcome` → the client's `Settings` (v0: `SettingsConfiguration`) → `SettingsApplied` and
any warnings → binary audio both ways and JSON control messages until the conversation
ends. Bad input gets the `Error` Deepgram would send (`UNPARSABLE_CLIENT_MESSAGE`,
`NON_SETTINGS_MESSAGE_BEFORE_SETTINGS`, `SETTINGS_ALREADY_APPLIED`, `INVALID_SETTINGS`)
and the connection carries on; only silence (no audio and no `KeepAlive` for
`IDLE_TIMEOUT_S`, which also bounds the wait for `Settings`) ends it, with
`CLIENT_MESSAGE_TIMEOUT`, and so does flooding past the `Limits`. A message that fails in a
way nobody foresaw gets `INTERNAL_SERVER_ERROR` as a warning, and the next is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from parley.dialects.connection import Connection
from parley.dialects.deepgram import settings as deepgram_settings
from parley.dialects.deepgram.messages import Renderer, error, message, warning
from parley.dialects.deepgram.providers import InvalidProvider, speak_specs, think_choices
from parley.dialects.deepgram.settings import InvalidSettings, Version
from parley.dialects.host import Admission, SessionHost, SessionOptions, SessionRefused
from parley.dialects.limits import Limits, too_large
from parley.dialects.socket import Socket
from parley.engine.events import (
    Ended,
    Event,
    Reconfigure,
    SayAsAgent,
    Stop,
    ToolResult,
    UserAudio,
    UserText,
)
from parley.validation import BadFrame, load_frame

log = logging.getLogger("parley.dialects")

IDLE_TIMEOUT_S = 10.0
MAX_NAME = 200  # ids and model names
_CONNECTION_CODES = {
    "start_timeout": "CLIENT_MESSAGE_TIMEOUT",
    "rate_limited": "RATE_LIMITED",
    "internal_error": "INTERNAL_SERVER_ERROR",
}
Handler = Callable[[dict[str, Any]], Awaitable[None]]


def _text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidSettings(f"{what} must be a non-empty string")
    if len(value) > limit:
        raise InvalidSettings(f"{what} is longer than {limit} characters")
    return value


# Client messages after Settings, by type: the method that handles each. Names, not bound
# methods: a table of bound methods on each session would be a reference cycle.
_HANDLERS = {
    "UpdatePrompt": "_update_prompt",
    "UpdateInstructions": "_update_prompt",
    "UpdateSpeak": "_update_speak",
    "UpdateThink": "_update_think",
    "InjectUserMessage": "_inject_user",
    "InjectAgentMessage": "_inject_agent",
    "FunctionCallResponse": "_function_result",
}


class DeepgramSession:
    def __init__(
        self,
        socket: Socket,
        host: SessionHost,
        admission: Admission,
        version: Version,
        limits: Limits,
    ) -> None:
        self._socket = socket
        self._host = host
        self._admission = admission
        self._version = version
        self._limits = limits
        self._conn = Connection(socket, host, limits, self._report)
        self._renderer: Renderer | None = None
        self._loop = asyncio.get_running_loop()
        self._last_heard = self._loop.time()

    async def run(self) -> None:
        request_id = str(uuid.uuid4())
        key = "request_id" if self._version == "v1" else "session_id"
        self._conn.outbox.put(message("Welcome", **{key: request_id}))
        watchdog = asyncio.create_task(self._watch_idle(), name="deepgram-idle")
        try:
            await self._conn.serve(self._converse)
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog

    async def _converse(self) -> None:
        take = self._conn.taker(self._audio)
        while (data := await self._socket.receive(take)) is not None:
            try:
                await self._frame(data)
            except Exception:
                log.exception("could not handle a Deepgram message")
                self._conn.outbox.put(
                    warning("INTERNAL_SERVER_ERROR", "the server could not handle that message")
                )
            if self._conn.done:
                return
        self._conn.disconnected()

    def _audio(self, data: bytes) -> UserAudio | None:
        """Binary audio up to its delivery: in the handler's turn, or in place as soon as it
        arrives (`Connection.taker`)."""
        limit = self._limits.max_frame_bytes
        if too_large(data, limit):
            self._error("UNPARSABLE_CLIENT_MESSAGE", f"messages may be at most {limit} bytes")
            return None
        self._last_heard = self._loop.time()
        if self._conn.live is None:
            self._error("NON_SETTINGS_MESSAGE_BEFORE_SETTINGS", "send Settings before any audio")
        elif self._conn.admit_audio(data):
            return UserAudio(data)
        return None

    async def _frame(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            if (audio := self._audio(data)) is not None and self._conn.live is not None:
                await self._conn.live.conversation.deliver(audio)
        elif too_large(data, limit := self._limits.max_frame_bytes):
            self._error("UNPARSABLE_CLIENT_MESSAGE", f"messages may be at most {limit} bytes")
        else:
            await self._control(data)

    async def _control(self, data: str) -> None:
        try:
            parsed = load_frame(data, self._limits.max_json_depth)
        except BadFrame as exc:
            self._error("UNPARSABLE_CLIENT_MESSAGE", str(exc))
            return
        kind = parsed.get("type") if isinstance(parsed, dict) else None
        if not isinstance(kind, str):
            self._error("UNPARSABLE_CLIENT_MESSAGE", 'a message must be {"type": ..., ...}')
            return
        if not self._conn.admit_message():
            return
        if kind == "KeepAlive":
            self._last_heard = self._loop.time()
        elif kind in ("Settings", "SettingsConfiguration"):
            await self._settings(parsed, "v1" if kind == "Settings" else "v0")
        elif kind not in _HANDLERS:
            self._error("UNPARSABLE_CLIENT_MESSAGE", f"unknown message type {kind[:100]!r}")
        elif self._conn.live is None:
            self._error("NON_SETTINGS_MESSAGE_BEFORE_SETTINGS", f"send Settings before {kind}")
        else:
            try:
                handler: Handler = getattr(self, _HANDLERS[kind])
                await handler(parsed)
            except (InvalidSettings, InvalidProvider) as exc:
                self._error("UNPARSABLE_CLIENT_MESSAGE", f"{kind}: {exc}")

    # Settings -----------------------------------------------------------------------------------

    async def _settings(self, parsed: dict[str, Any], version: Version) -> None:
        if self._conn.live is not None:
            self._error("SETTINGS_ALREADY_APPLIED", "settings can be applied only once")
            return
        try:
            setup = deepgram_settings.parse(parsed, version, self._limits.max_prompt_chars)
        except InvalidSettings as exc:
            self._error("INVALID_SETTINGS", str(exc))
            return
        options = SessionOptions(
            input_format=setup.input_format,
            output_format=setup.output_format,
            agent_id=setup.agent_id,
            system_prompt=setup.system_prompt,
            greeting=setup.greeting,
            overrides=setup.overrides,
        )
        self._renderer = Renderer(self._version, setup.output_format, setup.wav_container)
        try:
            live = await self._host.open(self._admission, options, self._emit, "deepgram")
        except SessionRefused as refusal:
            self._error("INVALID_SETTINGS", refusal.message)
            return
        self._conn.outbox.put(message("SettingsApplied"))
        for note in [*setup.warnings, *live.warnings]:
            self._conn.outbox.put(warning("PROVIDER_NOT_AVAILABLE", note))
        self._conn.start(live, setup.input_format)

    # Control messages after Settings --------------------------------------------------------

    async def _update_prompt(self, parsed: dict[str, Any]) -> None:
        assert self._conn.live is not None
        v0 = parsed["type"] == "UpdateInstructions"
        prompt = _text(
            parsed.get("instructions" if v0 else "prompt"), "prompt", self._limits.max_prompt_chars
        )
        answer = "InstructionsUpdated" if v0 else "PromptUpdated"
        self._conn.live.conversation.submit(Reconfigure(system_prompt=prompt))
        self._conn.outbox.put(message(answer))

    async def _update_speak(self, parsed: dict[str, Any]) -> None:
        assert self._conn.live is not None
        notes: list[str] = []
        if self._version == "v0" or "model" in parsed:  # v0: {"model": "aura-…"}
            specs = [f"deepgram-tts:{_text(parsed.get('model'), 'model', MAX_NAME)}"]
        else:
            speak = parsed.get("speak")
            if not isinstance(speak, dict | list):
                raise InvalidSettings("speak must be an object or a list")
            specs, notes = speak_specs(speak)
        change, warnings = await self._host.rebuild(self._conn.live, tts=specs or None)
        self._apply(change, [*notes, *warnings], "SpeakUpdated")

    async def _update_think(self, parsed: dict[str, Any]) -> None:
        assert self._conn.live is not None
        think = parsed.get("think")
        if not isinstance(think, dict | list):
            raise InvalidSettings("think must be an object or a list")
        choices, notes = think_choices(think)
        first = think[0] if isinstance(think, list) and think else think
        tools = deepgram_settings.functions_of(think)
        change, warnings = await self._host.rebuild(
            self._conn.live, llm=choices or None, tools=tools
        )
        prompt = first.get("prompt") if isinstance(first, dict) else None
        if prompt is not None:
            prompt = _text(prompt, "think.prompt", self._limits.max_prompt_chars)
            change = Reconfigure(
                system_prompt=prompt, llm=change.llm, tts=change.tts, tools=change.tools
            )
        self._apply(change, [*notes, *warnings], "ThinkUpdated")

    def _apply(self, change: Reconfigure, warnings: list[str], answer: str) -> None:
        assert self._conn.live is not None
        for note in warnings:
            self._conn.outbox.put(warning("PROVIDER_NOT_AVAILABLE", note))
        self._conn.live.conversation.submit(change)
        self._conn.outbox.put(message(answer))

    async def _inject_user(self, parsed: dict[str, Any]) -> None:
        assert self._conn.live is not None
        text = _text(parsed.get("content"), "content", self._limits.max_text_chars)
        await self._conn.live.conversation.deliver(UserText(text))

    async def _inject_agent(self, parsed: dict[str, Any]) -> None:
        assert self._conn.live is not None
        text = _text(
            parsed.get("message") or parsed.get("content"), "message", self._limits.max_text_chars
        )
        await self._conn.live.conversation.deliver(SayAsAgent(text))

    async def _function_result(self, parsed: dict[str, Any]) -> None:
        assert self._conn.live is not None
        call_id = parsed.get("id") or parsed.get("function_call_id")
        result = parsed.get("content", parsed.get("output"))
        if not isinstance(call_id, str) or not call_id or len(call_id) > MAX_NAME or result is None:
            raise InvalidSettings("FunctionCallResponse needs an id and content")
        text = result if isinstance(result, str) else json.dumps(result)
        await self._conn.live.conversation.deliver(ToolResult(call_id, text))

    # Output, timeouts, ending -------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        if self._renderer is not None:
            for frame in self._renderer.render(event):
                self._conn.outbox.put(frame)
        if isinstance(event, Ended):
            self._conn.outbox.close_after_pending()

    def _error(self, code: str, description: str) -> None:
        self._conn.outbox.put(error(code, description))

    def _report(self, code: str, description: str, fatal: bool) -> None:
        """The connection's own errors (limits): fatal ones as `Error`, others as `Warning`."""
        code = _CONNECTION_CODES.get(code, code.upper())
        self._conn.outbox.put(error(code, description) if fatal else warning(code, description))

    async def _watch_idle(self) -> None:
        while not self._conn.outbox.closed:
            deadline = self._last_heard + IDLE_TIMEOUT_S
            if self._loop.time() >= deadline:
                self._error(
                    "CLIENT_MESSAGE_TIMEOUT",
                    f"no audio or KeepAlive for {IDLE_TIMEOUT_S:.0f} seconds",
                )
                if self._conn.live is not None:
                    self._conn.live.conversation.submit(Stop("timeout"))
                else:
                    self._conn.outbox.close_after_pending(1000, "idle")
                return
            await asyncio.sleep(deadline - self._loop.time())
