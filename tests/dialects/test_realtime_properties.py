"""Properties of the Realtime dialect's pure parts: `session.update` parsing is total (any
JSON is a new configuration or an `InvalidEvent`, never a crash) and all or nothing; and
whatever the engine does, the renderer's events are valid in the SDK's own types, every
`response.created` is closed by one `response.done`, and deltas only go to open responses."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from parley.audio.formats import AudioFormat
from parley.dialects.realtime.config import SessionConfig, updated
from parley.dialects.realtime.errors import InvalidEvent
from parley.dialects.realtime.render import Renderer
from parley.engine.events import (
    AgentAudio,
    Ended,
    Interrupted,
    NothingHeard,
    Notice,
    ResponseEnded,
    ResponseStarted,
    StateChanged,
    ToolCallUpdate,
    ToolsAwaited,
    Transcript,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)
from tests.support.realtime import ADAPTERS

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "instructions",
        "tools",
        "tool_choice",
        "temperature",
        "audio",
        "output_modalities",
        "modalities",
        "voice",
        "turn_detection",
        "input_audio_format",
        "max_output_tokens",
        "type",
        "input_audio_transcription",
        "tracing",
    ]
)
sessions = st.dictionaries(field_names, json_values, max_size=5) | json_values


@settings(max_examples=400, deadline=None)
@given(session=sessions, beta=st.booleans())
def test_any_session_update_is_a_configuration_or_an_invalid_event(
    session: Any, beta: bool
) -> None:
    before = SessionConfig(model="m")
    snapshot = repr(before)
    outcome: SessionConfig | InvalidEvent
    try:
        outcome = updated(before, session, beta, max_chars=1000)
    except InvalidEvent as bad:
        outcome = bad
    if isinstance(outcome, InvalidEvent):
        assert outcome.message
        assert outcome.param is None or outcome.param.startswith("session")
    assert repr(before) == snapshot  # all or nothing: the old configuration is untouched


def engine_events() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(
            AgentAudio,
            st.binary(min_size=2, max_size=8).filter(lambda b: len(b) % 2 == 0),
            st.just(0),
        ),
        st.builds(
            Transcript,
            st.sampled_from(["user", "agent"]),
            st.sampled_from(["", "Hi", "Hi there"]),
            st.booleans(),
            st.just(1),
        ),
        st.builds(ResponseStarted, st.integers(1, 3)),
        st.builds(ResponseEnded, st.integers(1, 3), st.sampled_from(["completed", "cancelled"])),
        st.just(UserStartedSpeaking()),
        st.builds(UserStoppedSpeaking, st.booleans()),
        st.builds(StateChanged, st.sampled_from(["listening", "thinking", "speaking", "idle"])),
        st.builds(
            ToolCallUpdate,
            st.sampled_from(["c1", "c2"]),
            st.just("get_weather"),
            st.just({"city": "Oslo"}),
            st.sampled_from(["requested", "completed"]),
            st.booleans(),
        ),
        st.builds(ToolsAwaited, st.just(1)),
        st.just(Interrupted()),
        st.just(NothingHeard()),
        st.builds(Notice, st.sampled_from(["response_active", "unknown_tool_call"]), st.just("x")),
    )


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(engine_events(), max_size=40),
    beta=st.booleans(),
    asks=st.lists(st.booleans(), max_size=40),
)
def test_the_renderer_keeps_responses_balanced_and_valid(
    events: list[Any], beta: bool, asks: list[bool]
) -> None:
    sent: list[dict[str, Any]] = []
    renderer = Renderer(
        lambda frame: sent.append(json.loads(frame)),
        beta=beta,
        output_format=AudioFormat("linear16", 24000),
    )

    async def run() -> None:
        for index, event in enumerate(events):
            if index < len(asks) and asks[index] and renderer.answer is None:
                renderer.open()  # a client's response.create
            renderer.render(event)
            await asyncio.sleep(0)
        renderer.render(Ended("stop"))

    asyncio.run(run())
    open_ids: set[str] = set()
    for event in sent:
        if event["type"] not in ("conversation.item.done", "conversation.item.added"):
            ADAPTERS[beta].validate_python(event)
        if event["type"] == "response.created":
            assert not open_ids, "two responses open at once"
            open_ids.add(event["response"]["id"])
        elif event["type"] == "response.done":
            open_ids.remove(event["response"]["id"])
        elif "response_id" in event and event["type"].startswith("response."):
            assert event["response_id"] in open_ids, event
    assert not open_ids, "a response was left open"
