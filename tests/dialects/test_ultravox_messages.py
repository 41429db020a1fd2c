"""Ultravox data messages: parsing never raises, and transcripts render as clients rebuild
them (agent deltas that add up to the final text, one ordinal per utterance)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.dialects.ultravox import messages
from parley.engine.events import (
    Interrupted,
    SayAsAgent,
    SetOutputMedium,
    Stop,
    ToolResult,
    Transcript,
    UserText,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
TYPES = [*messages._PARSERS, "nonsense"]


@given(st.sampled_from(TYPES), st.dictionaries(st.text(max_size=20), json_values, max_size=6))
def test_parsing_any_object_gives_a_command_or_a_clear_error(
    kind: str, fields: dict[str, Any]
) -> None:
    parsed = messages.parse(json.dumps({**fields, "type": kind}))
    if isinstance(parsed, messages.ProtocolError):
        assert parsed.code and parsed.message
    else:
        assert kind in messages._PARSERS


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"type": "user_text_message", "text": "hi"}, UserText("hi", respond="after")),
        (
            {"type": "user_text_message", "text": "hi", "urgency": "later"},
            UserText("hi", respond="no"),
        ),
        ({"type": "input_text_message", "text": "hi"}, UserText("hi", respond="now")),
        (
            {"type": "input_text_message", "text": "hi", "deferResponse": True},
            UserText("hi", respond="no"),
        ),
        ({"type": "set_output_medium", "medium": "text"}, SetOutputMedium(text=True)),
        ({"type": "hang_up"}, Stop()),
        (
            {"type": "hang_up", "message": "Bye."},
            SayAsAgent("Bye.", urgency="immediate", uninterruptible=True, then_end="stop"),
        ),
        (
            {"type": "forced_agent_message", "content": "Note.", "urgency": "immediate"},
            SayAsAgent("Note.", urgency="immediate"),
        ),
        (
            {
                "type": "client_tool_result",
                "invocationId": "c1",
                "result": "ok",
                "responseType": "hang-up",
                "agentReaction": "speaks-once",
                "updateCallState": {"a": 1},
            },
            ToolResult("c1", "ok", hang_up=True, reaction="speaks_once", state={"a": 1}),
        ),
        (
            {
                "type": "client_tool_result",
                "invocationId": "c1",
                "errorType": "undefined",
                "errorMessage": "no such tool",
            },
            ToolResult("c1", json.dumps({"error": "no such tool"}), is_error=True),
        ),
    ],
)
def test_client_messages_become_commands(message: dict[str, Any], expected: object) -> None:
    assert messages.parse(json.dumps(message)) == expected


@pytest.mark.parametrize(
    "message",
    [
        {"type": "user_text_message", "text": ""},
        {"type": "user_text_message", "text": "x", "urgency": "now"},
        {"type": "set_output_medium", "medium": "smoke"},
        {"type": "client_tool_result", "invocationId": "c1"},
        {"type": "client_tool_result", "invocationId": "c1", "result": "x", "responseType": "nope"},
        {"type": "forced_agent_message", "content": "x", "toolCalls": [{"name": "t"}]},
        {"type": "ping", "timestamp": "soon"},
    ],
)
def test_bad_messages_say_what_is_wrong(message: dict[str, Any]) -> None:
    parsed = messages.parse(json.dumps(message))
    assert isinstance(parsed, messages.ProtocolError)
    assert message["type"] in parsed.message


def test_agent_transcripts_stream_as_deltas_that_add_up_to_the_final() -> None:
    renderer = messages.Renderer(debug=False)
    frames = [
        json.loads(frame)
        for event in (
            Transcript("user", "what's on", final=False, turn=1),
            Transcript("user", "what's on the menu", final=True, turn=1),
            Transcript("agent", "Pancakes,", final=False, turn=1),
            Transcript("agent", "Pancakes, and waffles.", final=False, turn=1),
            Transcript("agent", "Pancakes, and waffles.", final=True, turn=1),
            Transcript("agent", "Also", final=False, turn=2),
            Interrupted(),
        )
        for frame in renderer.render(event)
    ]
    user = [f for f in frames if f.get("role") == "user"]
    assert [f["text"] for f in user] == ["what's on", "what's on the menu"]
    assert {f["ordinal"] for f in user} == {0}
    agent = [f for f in frames if f.get("role") == "agent" and f["ordinal"] == 1]
    assert (
        "".join(f.get("delta") or "" for f in agent if not f["final"]) == "Pancakes, and waffles."
    )
    assert agent[-1] == {
        "type": "transcript",
        "role": "agent",
        "medium": "voice",
        "text": "Pancakes, and waffles.",
        "final": True,
        "ordinal": 1,
    }
    cut = [f for f in frames if f.get("ordinal") == 2]
    assert cut[-1]["final"] and cut[-1]["text"] == ""  # nothing of it was heard
    assert {"type": "playback_clear_buffer"} in frames
