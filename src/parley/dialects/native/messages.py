"""Native dialect frames ↔ engine commands and events (docs/protocols/native.md). Pure functions.

Every text frame is `{"type": str, "payload": object}`. Parsing never raises: bad input
(including JSON nested too deep, NaN, NUL and lone surrogates, see `validation.load_frame`) is
a `ProtocolError` value with the code and message the client will see.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from parley.dialects.frames import ProtocolError as ProtocolError
from parley.dialects.frames import typed_frame
from parley.dialects.limits import Limits
from parley.engine.events import (
    AgentAudio,
    AgentPaused,
    AgentResumed,
    BargeInResolved,
    Citation,
    Command,
    Ended,
    Event,
    Failure,
    Interrupt,
    Interrupted,
    Notice,
    PlaybackProgress,
    Ready,
    Stop,
    ToolCallUpdate,
    ToolResult,
    Transcript,
    UserAudio,
    UserText,
)
from parley.engine.measures import TurnMetrics

MAX_ID = 200
MAX_PLAYED_MS = 1e12  # finite, and a float (a huge int would overflow float())
DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class StartRequest:
    payload: dict[str, Any]


Parsed = Command | StartRequest | ProtocolError


def parse(text: str, limits: Limits = DEFAULT_LIMITS) -> Parsed:
    frame = typed_frame(text, limits.max_json_depth, '{"type": str, "payload": {...}}')
    if isinstance(frame, ProtocolError):
        return frame
    kind, payload = frame["type"], frame.get("payload", {})
    parser = _PARSERS.get(kind)
    if parser is None:
        return ProtocolError("unknown_type", f"unknown message type {kind[:100]!r}")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        return ProtocolError("invalid_message", f"{kind}: payload must be an object")
    return parser(payload, limits)


def decode_audio(data: Any) -> bytes | ProtocolError:
    if not isinstance(data, str):
        return ProtocolError("invalid_audio", "audio: data must be a base64 string")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return ProtocolError("invalid_audio", "audio: data is not valid base64")


def _audio(payload: dict[str, Any], _limits: Limits) -> Parsed:
    decoded = decode_audio(payload.get("data"))
    return decoded if isinstance(decoded, ProtocolError) else UserAudio(decoded)


def _text(payload: dict[str, Any], limits: Limits) -> Parsed:
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        return ProtocolError("invalid_message", "text: payload.text must be a non-empty string")
    if len(text) > limits.max_text_chars:
        return ProtocolError(
            "invalid_message", f"text: longer than {limits.max_text_chars} characters"
        )
    return UserText(text.strip())


def _tool_result(payload: dict[str, Any], _limits: Limits) -> Parsed:
    call_id, result = payload.get("id"), payload.get("result")
    if not isinstance(call_id, str) or not call_id or len(call_id) > MAX_ID:
        return ProtocolError(
            "invalid_message", f"tool_result: payload.id must be a string of 1–{MAX_ID} characters"
        )
    if "result" not in payload:
        return ProtocolError("invalid_message", "tool_result: payload.result is required")
    is_error = payload.get("is_error", False)
    if not isinstance(is_error, bool):
        return ProtocolError("invalid_message", "tool_result: payload.is_error must be a boolean")
    text = result if isinstance(result, str) else json.dumps(result)
    return ToolResult(call_id, text, is_error=is_error)


def _played(payload: dict[str, Any], _limits: Limits) -> Parsed:
    ms = payload.get("ms")
    if isinstance(ms, bool) or not isinstance(ms, int | float) or not 0 <= ms <= MAX_PLAYED_MS:
        return ProtocolError(
            "invalid_message", f"played: payload.ms must be a number from 0 to {MAX_PLAYED_MS:.0f}"
        )
    return PlaybackProgress(float(ms))


_PARSERS: dict[str, Callable[[dict[str, Any], Limits], Parsed]] = {
    "start": lambda payload, _limits: StartRequest(payload),
    "audio": _audio,
    "text": _text,
    "interrupt": lambda _payload, _limits: Interrupt(),
    "tool_result": _tool_result,
    "played": _played,
    "stop": lambda _payload, _limits: Stop(),
}


def frame(kind: str, payload: dict[str, Any]) -> str:
    return json.dumps({"type": kind, "payload": payload}, separators=(",", ":"))


def error(code: str, message: str, *, fatal: bool = False) -> str:
    return frame("error", {"code": code, "message": message, "fatal": fatal})


def render(event: Event, *, binary_audio: bool, transcripts: dict[str, bool]) -> str | bytes | None:
    """The frame for an engine event, or None if this dialect does not show it."""
    if isinstance(event, AgentAudio):
        if binary_audio:
            return event.data
        return frame("audio", {"data": base64.b64encode(event.data).decode(), "seq": event.seq})
    if isinstance(event, Transcript):
        if not transcripts.get(event.role, True):
            return None
        return frame(
            "transcript",
            {"role": event.role, "text": event.text, "final": event.final, "turn": event.turn},
        )
    if isinstance(event, Ready):
        return frame("ready", {})
    if isinstance(event, ToolCallUpdate):
        return frame(
            "tool_call",
            {
                "id": event.call_id,
                "name": event.name,
                "arguments": event.arguments,
                "status": event.status,
                "client_side": event.client_side,
            },
        )
    if isinstance(event, Interrupted):
        return frame("interrupted", {})
    if isinstance(event, AgentPaused):
        return frame("paused", {"turn": event.turn})
    if isinstance(event, AgentResumed):
        return frame("resumed", {"turn": event.turn})
    if isinstance(event, BargeInResolved):
        resolved = event.barge_in
        return frame("metrics", {"turn": resolved.turn, "barge_in": resolved.as_dict()})
    if isinstance(event, TurnMetrics):
        return frame("metrics", event.as_dict())
    if isinstance(event, Citation):
        return frame("citation", event.as_dict())
    if isinstance(event, Failure):
        return error(event.code, event.message, fatal=event.fatal)
    if isinstance(event, Notice):
        return error(event.code, event.message)
    if isinstance(event, Ended):
        return frame("ended", {"reason": event.reason, "transcript": event.transcript})
    return None
