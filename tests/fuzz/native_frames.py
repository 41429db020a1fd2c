"""Strategies for every client→server frame of the native dialect (docs/protocols/native.md).

`start`, `audio`, `text`, `interrupt`, `tool_result`, `played`, `stop` and binary audio,
each well-formed or broken in one or two named ways, plus the junk every dialect refuses.
"""

from __future__ import annotations

import base64
import math
from dataclasses import replace
from functools import partial
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.frames import (
    Draft,
    Frame,
    audio_bytes,
    big_strings,
    blank,
    json_values,
    junk_frames,
    message,
    not_a_list,
    not_a_string,
    not_an_object,
    opening,
    plain_text,
)

KINDS = ["start", "audio", "text", "interrupt", "tool_result", "played", "stop"]
PCM_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
G711_RATES = (8000, 16000)
FORMATS = [("linear16", rate) for rate in PCM_RATES] + [
    (encoding, rate) for encoding in ("mulaw", "alaw") for rate in G711_RATES
]
bad_encodings = st.sampled_from(["mp3", "LINEAR16", "pcm", "", None]) | not_a_string
bad_rates = st.sampled_from([0, 12345, -16000, 16000.5, 11025, math.nan, math.inf, 10**400, None])
bad_rates |= st.sampled_from(["fast", [16000], {"hz": 16000}])
bad_bools = st.sampled_from(["maybe", 2, -1, [True], {"on": True}, None])
texts = plain_text.filter(str.strip) | st.integers(1_900, 2_000).map(lambda n: "w" * n)


def audio_spec(d: Draft, default_rate: int) -> dict[str, Any]:
    """`{encoding, sample_rate}`: a supported pair, or one of them wrong. Every G.711 rate is
    a PCM rate too, so leaving the encoding out keeps the pair supported; leaving the rate
    out is fine unless the default rate does not suit the encoding."""
    encoding, rate = d.draw(st.sampled_from(FORMATS))
    spec: dict[str, Any] = {}
    d.put(spec, "encoding", st.just(encoding), bad_encodings)
    needs_rate = spec.get("encoding") in ("mulaw", "alaw") and default_rate not in G711_RATES
    d.put(spec, "sample_rate", st.just(rate), bad_rates, required=needs_rate)
    d.extras(spec)
    return spec


def start_payload(d: Draft) -> dict[str, Any]:
    """The start payload (also the body of `POST /v1/voice`)."""
    payload: dict[str, Any] = {}

    def audio() -> dict[str, Any]:
        config: dict[str, Any] = {}
        for side, rate in (("input", 16000), ("output", 24000)):
            if d.draw(st.booleans()):
                config[side] = d.either(
                    f"audio.{side}", partial(audio_spec, d, rate), not_an_object
                )
        return config

    def voice() -> dict[str, Any]:
        config: dict[str, Any] = {}
        d.put(config, "input_transcription", st.booleans(), bad_bools)
        d.put(config, "output_transcription", st.booleans(), bad_bools)
        d.put(
            config,
            "voice_preset",
            d.spiced(plain_text),
            not_a_string.filter(lambda v: v is not None),
        )
        return config

    def user() -> dict[str, Any]:
        info: dict[str, Any] = {}
        for name in ("email", "first_name", "last_name"):
            d.put(info, name, d.spiced(plain_text), st.integers() | st.just(321).map("n".__mul__))
        return info

    for name, make in (("audio", audio), ("voice_config", voice), ("user", user)):
        if d.draw(st.booleans()):
            payload[name] = d.either(name, make, not_an_object)
    d.put(
        payload,
        "config",
        d.spiced(plain_text).map(lambda prompt: {"system_prompt": prompt}),
        not_an_object | st.just({"system_prompt": 42}),
    )
    for name in ("initial_context", "initial_message"):
        d.put(payload, name, d.spiced(texts), st.just("") | big_strings | st.integers())
    for name in ("ephemeral", "binary_audio"):
        d.put(payload, name, st.booleans(), bad_bools.filter(lambda v: v is not None))
    for name in ("file_ids", "secret_ids", "knowledge_ids", "page_ids"):
        # Ids name the account's files, secrets and collections: none exist here, so any id
        # is refused (clearly, with `not_found`); only an empty list starts a session.
        d.put(
            payload,
            name,
            st.just([]),
            not_a_list
            | st.just([5])
            | st.lists(d.spiced(plain_text), min_size=1, max_size=3)
            | st.sampled_from([(201, 1), (1, 101)]).map(lambda n: ["i" * n[0]] * n[1]),
        )
    for name in ("agent_id", "conversation_id"):  # a real one would be the default anyway
        if d.broken(16):
            d.reasons.append(f"unknown {name}")
            payload[name] = d.draw(st.sampled_from(["agt_nope", "cnv_nope", "x" * 41, 7, []]))
    d.extras(payload)
    return payload


def read(frame: dict[str, Any]) -> dict[str, Any]:
    """What the server reads of a frame: `type` and `payload` (other keys are ignored)."""
    return {key: frame[key] for key in ("type", "payload") if key in frame}


def envelope(d: Draft, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """`{"type": kind, "payload": …}`; the payload left out or null means `{}`."""
    if d.broken(16):
        d.reasons.append("payload not an object")
        return {"type": kind, "payload": d.draw(not_an_object)}
    if not payload and d.draw(st.booleans()):
        return {"type": kind} if d.draw(st.booleans()) else {"type": kind, "payload": None}
    frame = {"type": kind, "payload": payload}
    d.extras(frame)
    return frame


@st.composite
def start_frames(draw: st.DrawFn, breakable: bool = True) -> Frame:
    d = Draft(draw, breakable)
    frame = envelope(d, "start", start_payload(d))
    return opening(message(frame, d.reasons, read=read(frame)))


@st.composite
def command_frames(draw: st.DrawFn) -> Frame:
    """`audio`, `text`, `interrupt`, `tool_result`, `played`: refused before `start`."""
    d = Draft(draw)
    kind = draw(st.sampled_from(["audio", "text", "interrupt", "tool_result", "played"]))
    payload: dict[str, Any] = {}
    if kind == "audio":
        data = st.binary(max_size=2400).map(lambda pcm: base64.b64encode(pcm).decode())
        bad = st.sampled_from(["!!!!", "abc", "a===", "YQ", "ab\ncd", "data:;base64,AA=="])
        d.put(payload, "data", data, bad | not_a_string, required=True)
    elif kind == "text":
        d.put(payload, "text", d.spiced(texts), blank | big_strings | not_a_string, required=True)
    elif kind == "tool_result":
        d.put(payload, "id", d.spiced(plain_text), st.just("") | not_a_string, required=True)
        d.put(payload, "result", json_values, required=True)
        d.put(payload, "is_error", st.booleans() | json_values)
    elif kind == "played":
        ms = st.integers(0, 10**6) | st.floats(0, 1e9) | st.just(10**309)  # the last: > float
        bad = st.sampled_from([-1, -0.5, math.nan, math.inf, -math.inf, "10", None, True, []])
        d.put(payload, "ms", ms, bad, required=True)
    d.extras(payload)
    frame = envelope(d, kind, payload)
    return message(frame, d.reasons, before=True, read=read(frame))


@st.composite
def stop_frames(draw: st.DrawFn) -> Frame:
    """`stop`: after `start` the server answers `ended` and closes."""
    d = Draft(draw)
    payload: dict[str, Any] = {}
    d.extras(payload)
    value = envelope(d, "stop", payload)
    frame = message(value, d.reasons, before=True, read=read(value))
    return replace(frame, ends=frame.clean)


frames = st.one_of(
    command_frames(),
    command_frames(),
    command_frames(),
    command_frames(),
    start_frames(),
    junk_frames(KINDS),
    audio_bytes(refused_before=True),
)


@st.composite
def sessions(draw: st.DrawFn) -> list[Frame]:
    """One connection's frames: a few before `start` (all refused), usually a well-formed
    `start`, then anything; ends with `stop` or with the client hanging up."""
    before = draw(st.lists(frames, max_size=4))
    if not draw(st.integers(0, 7)):
        return before
    after = draw(st.lists(frames, min_size=6, max_size=24))
    end = [draw(stop_frames())] if draw(st.booleans()) else []
    return [*before, draw(start_frames(breakable=False)), *after, *end]
