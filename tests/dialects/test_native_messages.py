"""Native dialect frames: parsing never raises, every message maps to one command or error."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.dialects.native.messages import ProtocolError, StartRequest, parse, render
from parley.engine.events import (
    AgentAudio,
    Ended,
    Interrupt,
    PlaybackProgress,
    Stop,
    ToolResult,
    Transcript,
    UserAudio,
    UserText,
)
from parley.validation import find_bad_text


@given(st.text(max_size=300))
def test_any_text_parses_to_a_command_or_a_protocol_error(text: str) -> None:
    parse(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(
    st.sampled_from(
        ["start", "audio", "text", "interrupt", "tool_result", "played", "stop", "dance"]
    ),
    json_values,
)
def test_any_payload_parses_without_raising(kind: str, payload: object) -> None:
    result = parse(json.dumps({"type": kind, "payload": payload}))
    if kind == "dance":  # text that cannot be stored is refused before the type is looked at
        expected = "invalid_message" if find_bad_text(payload) else "unknown_type"
        assert isinstance(result, ProtocolError) and result.code == expected


@given(st.binary(max_size=2000))
def test_base64_audio_round_trips(data: bytes) -> None:
    parsed = parse(
        json.dumps({"type": "audio", "payload": {"data": base64.b64encode(data).decode()}})
    )
    assert parsed == UserAudio(data)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ({"type": "text", "payload": {"text": " hi "}}, UserText("hi")),
        ({"type": "interrupt"}, Interrupt()),
        ({"type": "interrupt", "payload": None}, Interrupt()),
        ({"type": "stop", "payload": {}}, Stop()),
        ({"type": "played", "payload": {"ms": 1500}}, PlaybackProgress(1500.0)),
        ({"type": "tool_result", "payload": {"id": "c1", "result": "ok"}}, ToolResult("c1", "ok")),
        (
            {"type": "tool_result", "payload": {"id": "c1", "result": {"a": 1}}},
            ToolResult("c1", '{"a": 1}'),
        ),
        ({"type": "start", "payload": {"agent_id": "agt_1"}}, StartRequest({"agent_id": "agt_1"})),
    ],
)
def test_client_messages_map_to_commands(frame: dict[str, object], expected: object) -> None:
    assert parse(json.dumps(frame)) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "invalid_json"),
        ("[]", "invalid_message"),
        ('{"payload": {}}', "invalid_message"),
        ('{"type": "text", "payload": []}', "invalid_message"),
        ('{"type": "text", "payload": {"text": ""}}', "invalid_message"),
        ('{"type": "text", "payload": {"text": "a\\u0000b"}}', "invalid_message"),
        ('{"type": "audio", "payload": {"data": "%%%"}}', "invalid_audio"),
        ('{"type": "audio", "payload": {}}', "invalid_audio"),
        ('{"type": "played", "payload": {"ms": -1}}', "invalid_message"),
        ('{"type": "played", "payload": {"ms": true}}', "invalid_message"),
        ('{"type": "tool_result", "payload": {"result": 1}}', "invalid_message"),
        ('{"type": "tool_result", "payload": {"id": "c1"}}', "invalid_message"),
        ('{"type": "hello"}', "unknown_type"),
    ],
)
def test_bad_frames_are_protocol_errors_with_codes(raw: str, code: str) -> None:
    result = parse(raw)
    assert isinstance(result, ProtocolError) and result.code == code


def test_events_render_as_documented_frames() -> None:
    shown = {"user": True, "agent": False}
    audio = json.loads(render(AgentAudio(b"\x01\x02", 7), binary_audio=False, transcripts=shown))  # type: ignore[arg-type]
    assert audio == {"type": "audio", "payload": {"data": "AQI=", "seq": 7}}
    assert render(AgentAudio(b"\x01\x02", 7), binary_audio=True, transcripts=shown) == b"\x01\x02"
    assert render(Transcript("agent", "hi", True, 1), binary_audio=False, transcripts=shown) is None
    user = json.loads(
        render(Transcript("user", "hi", True, 1), binary_audio=False, transcripts=shown)
    )  # type: ignore[arg-type]
    assert user == {
        "type": "transcript",
        "payload": {"role": "user", "text": "hi", "final": True, "turn": 1},
    }
    ended = json.loads(
        render(
            Ended("stop", [{"role": "user", "text": "hi"}]), binary_audio=False, transcripts=shown
        )
    )  # type: ignore[arg-type]
    assert ended == {
        "type": "ended",
        "payload": {"reason": "stop", "transcript": [{"role": "user", "text": "hi"}]},
    }
