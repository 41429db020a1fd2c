"""Twilio Media Streams' messages (docs/protocols/twilio.md): parsed from Twilio, rendered
to it. Pure: text in, values out; nothing here raises on bad input.

Every message is a JSON text frame whose `event` names it. From Twilio: `connected`,
`start` (the stream's and the call's ids, the custom parameters of `<Stream>`, the media
format), `media` (base64 μ-law, 20 ms a frame), `mark` (the audio before a mark Parley
sent has played, or was cleared), `dtmf` and `stop`. To Twilio: `media`, `mark` and
`clear`. Twilio has no error message for a server to send, so a bad frame is a
`ProtocolError` value the session logs and counts; the call goes on.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from parley.dialects.frames import ProtocolError as ProtocolError
from parley.dialects.frames import typed_frame

MEDIA_ENCODING = "audio/x-mulaw"
SAMPLE_RATE = 8000
MAX_PARAMETERS = 32


@dataclass(frozen=True, slots=True)
class Connected:
    """The first message of every stream; it says nothing Parley needs."""


@dataclass(frozen=True, slots=True)
class Start:
    stream_sid: str
    call_sid: str
    account_sid: str
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Media:
    payload: bytes  # μ-law 8 kHz


@dataclass(frozen=True, slots=True)
class Mark:
    name: str


@dataclass(frozen=True, slots=True)
class Dtmf:
    digit: str


@dataclass(frozen=True, slots=True)
class StreamStopped:
    """Twilio ends the stream: the caller hung up, or the call left the stream."""


Parsed = Connected | Start | Media | Mark | Dtmf | StreamStopped | ProtocolError


def parse(text: str, max_depth: int) -> Parsed:
    frame = typed_frame(text, max_depth, "an object with a string `event`", key="event")
    if isinstance(frame, ProtocolError):
        return frame
    reader = _READERS.get(frame["event"])
    if reader is None:
        return ProtocolError("unknown_event", f"unknown event {frame['event'][:40]!r}")
    return reader(frame)


def _object(frame: dict[str, Any], name: str) -> dict[str, Any] | ProtocolError:
    value = frame.get(name)
    if not isinstance(value, dict):
        return ProtocolError("invalid_message", f"{frame['event']}: `{name}` must be an object")
    return value


def _start(frame: dict[str, Any]) -> Parsed:
    start = _object(frame, "start")
    if isinstance(start, ProtocolError):
        return start
    stream_sid = start.get("streamSid") or frame.get("streamSid")
    call_sid = start.get("callSid")
    if not isinstance(stream_sid, str) or not isinstance(call_sid, str):
        return ProtocolError("invalid_message", "start: `streamSid` and `callSid` are required")
    media = start.get("mediaFormat") or {}
    if not isinstance(media, dict):
        return ProtocolError("invalid_message", "start: `mediaFormat` must be an object")
    encoding, rate = media.get("encoding", MEDIA_ENCODING), media.get("sampleRate", SAMPLE_RATE)
    if encoding != MEDIA_ENCODING or rate != SAMPLE_RATE or media.get("channels", 1) != 1:
        return ProtocolError(
            "unsupported_format", f"start: media must be {MEDIA_ENCODING} {SAMPLE_RATE} Hz mono"
        )
    given = start.get("customParameters") or {}
    if not isinstance(given, dict) or len(given) > MAX_PARAMETERS:
        return ProtocolError("invalid_message", "start: `customParameters` must be an object")
    parameters = {str(k): v for k, v in given.items() if isinstance(v, str)}
    account_sid = start.get("accountSid")
    return Start(
        stream_sid, call_sid, account_sid if isinstance(account_sid, str) else "", parameters
    )


def _media(frame: dict[str, Any]) -> Parsed:
    media = _object(frame, "media")
    if isinstance(media, ProtocolError):
        return media
    if media.get("track", "inbound") != "inbound":
        return ProtocolError("invalid_message", "media: only the inbound track is heard")
    payload = media.get("payload")
    if not isinstance(payload, str):
        return ProtocolError("invalid_message", "media: `payload` must be a base64 string")
    try:
        return Media(base64.b64decode(payload, validate=True))
    except (binascii.Error, ValueError):
        return ProtocolError("invalid_message", "media: `payload` is not valid base64")


def _mark(frame: dict[str, Any]) -> Parsed:
    mark = _object(frame, "mark")
    if isinstance(mark, ProtocolError):
        return mark
    name = mark.get("name")
    if not isinstance(name, str):
        return ProtocolError("invalid_message", "mark: `name` must be a string")
    return Mark(name)


def _dtmf(frame: dict[str, Any]) -> Parsed:
    dtmf = _object(frame, "dtmf")
    if isinstance(dtmf, ProtocolError):
        return dtmf
    digit = dtmf.get("digit")
    if not isinstance(digit, str) or len(digit) != 1:
        return ProtocolError("invalid_message", "dtmf: `digit` must be one character")
    return Dtmf(digit)


_READERS: dict[str, Callable[[dict[str, Any]], Parsed]] = {
    "connected": lambda frame: Connected(),
    "start": _start,
    "media": _media,
    "mark": _mark,
    "dtmf": _dtmf,
    "stop": lambda frame: StreamStopped(),
}


# To Twilio ------------------------------------------------------------------------------


def media(stream_sid: str, audio: bytes) -> str:
    payload = base64.b64encode(audio).decode("ascii")
    return _compact({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}})


def mark(stream_sid: str, name: str) -> str:
    return _compact({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear(stream_sid: str) -> str:
    return _compact({"event": "clear", "streamSid": stream_sid})


def _compact(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))
