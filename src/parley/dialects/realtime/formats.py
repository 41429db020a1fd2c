"""Realtime audio formats, in both eras' spellings, as Parley's `AudioFormat`s.

GA: `{"type": "audio/pcm", "rate": 24000}`, `{"type": "audio/pcmu"}`, `{"type": "audio/pcma"}`;
beta: `"pcm16"`, `"g711_ulaw"`, `"g711_alaw"`. PCM is 16-bit little-endian mono at 24 kHz
(the only rate OpenAI accepts); G.711 is 8 kHz.
"""

from __future__ import annotations

from typing import Any

from parley.audio.formats import AudioFormat
from parley.dialects.realtime.errors import InvalidEvent

PCM = AudioFormat("linear16", 24000)
PCMU = AudioFormat("mulaw", 8000)
PCMA = AudioFormat("alaw", 8000)

_GA = {"audio/pcm": PCM, "audio/pcmu": PCMU, "audio/pcma": PCMA}
_BETA = {"pcm16": PCM, "g711_ulaw": PCMU, "g711_alaw": PCMA}


def parse_ga(value: Any, param: str) -> AudioFormat:
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise InvalidEvent("an audio format is an object with a type", param)
    kind = value["type"]
    if kind not in _GA:
        names = ", ".join(_GA)
        raise InvalidEvent(f"unsupported audio format {kind[:60]!r} (use {names})", f"{param}.type")
    rate = value.get("rate")
    if kind == "audio/pcm" and rate not in (None, 24000):
        raise InvalidEvent("audio/pcm is 24000 Hz only", f"{param}.rate")
    return _GA[kind]


def parse_beta(value: Any, param: str) -> AudioFormat:
    if not isinstance(value, str) or value not in _BETA:
        names = ", ".join(_BETA)
        raise InvalidEvent(f"unsupported audio format (use {names})", param)
    return _BETA[value]


def render_ga(fmt: AudioFormat) -> dict[str, Any]:
    if fmt == PCM:
        return {"type": "audio/pcm", "rate": 24000}
    return {"type": "audio/pcmu" if fmt == PCMU else "audio/pcma"}


def render_beta(fmt: AudioFormat) -> str:
    return next(name for name, known in _BETA.items() if known == fmt)
