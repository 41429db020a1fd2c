"""Native dialect frames ↔ engine commands and events (PROTOCOLS.md §2). Pure functions.

Every text frame is `{"type": str, "payload": object}`. Parsing never raises: bad input is a
`ProtocolError` value with the code and message the client will see.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from parley.engine.events import (
    AgentAudio,
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
    TurnMetrics,
    UserAudio,
    UserText,
)
from parley.validation import find_nul

MAX_TEXT = 2000


@dataclass(frozen=True, slots=True)
class ProtocolError:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class StartRequest:
    payload: dict[str, Any]


Parsed = Command | StartRequest | ProtocolError


def parse(text: str) -> Parsed:
    try:
        frame = json.loads(text)
    except ValueError as exc:
        return ProtocolError("invalid_json", f"frame is not valid JSON: {exc}")
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return ProtocolError("invalid_message", 'a frame must be {"type": str, "payload": {...}}')
    kind, payload = frame["type"], frame.get("payload", {})
    parser = _PARSERS.get(kind)
    if parser is None:
        return ProtocolError("unknown_type", f"unknown message type {kind!r}")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        return ProtocolError("invalid_message", f"{kind}: payload must be an object")
    where = find_nul(payload)
    if where is not None:
        return ProtocolError("invalid_message", f"{kind}: NUL character in {where}")
    return parser(payload)


def decode_audio(data: Any) -> bytes | ProtocolError:
    if not isinstance(data, str):
        return ProtocolError("invalid_audio", "audio: data must be a base64 string")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return ProtocolError("invalid_audio", "audio: data is not valid base64")


def _audio(payload: dict[str, Any]) -> Parsed:
    decoded = decode_audio(payload.get("data"))
    return decoded if isinstance(decoded, ProtocolError) else UserAudio(decoded)


def _text(payload: dict[str, Any]) -> Parsed:
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        return ProtocolError("invalid_message", "text: payload.text must be a non-empty string")
    if len(text) > MAX_TEXT:
        return ProtocolError("invalid_message", f"text: longer than {MAX_TEXT} characters")
    return UserText(text.strip())


def _tool_result(payload: dict[str, Any]) -> Parsed:
    call_id, result = payload.get("id"), payload.get("result")
    if not isinstance(call_id, str) or not call_id:
        return ProtocolError("invalid_message", "tool_result: payload.id must be a string")
    if "result" not in payload:
        return ProtocolError("invalid_message", "tool_result: payload.result is required")
    text = result if isinstance(result, str) else json.dumps(result)
    return ToolResult(call_id, text, is_error=bool(payload.get("is_error", False)))


def _played(payload: dict[str, Any]) -> Parsed:
    ms = payload.get("ms")
    if isinstance(ms, bool) or not isinstance(ms, int | float) or ms < 0:
        return ProtocolError("invalid_message", "played: payload.ms must be a number ≥ 0")
    return PlaybackProgress(float(ms))


_PARSERS: dict[str, Callable[[dict[str, Any]], Parsed]] = {
    "start": StartRequest,
    "audio": _audio,
    "text": _text,
    "interrupt": lambda _payload: Interrupt(),
    "tool_result": _tool_result,
    "played": _played,
    "stop": lambda _payload: Stop(),
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
    if isinstance(event, TurnMetrics):
        return frame("metrics", event.as_dict())
    if isinstance(event, Failure):
        return error(event.code, event.message, fatal=event.fatal)
    if isinstance(event, Notice):
        return error(event.code, event.message)
    if isinstance(event, Ended):
        return frame("ended", {"reason": event.reason, "transcript": event.transcript})
    return None
