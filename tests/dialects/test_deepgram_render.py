"""The Deepgram renderer's telling of a paused agent: the caller's speech start is said once,
at the pause, and a reply that ends while paused does not swallow the next one."""

from __future__ import annotations

import json

from parley.audio.formats import AudioFormat
from parley.dialects.deepgram.messages import Renderer
from parley.engine.events import (
    AgentPaused,
    AgentResumed,
    Event,
    ResponseEnded,
    UserStartedSpeaking,
)


def told(renderer: Renderer, *events: Event) -> list[str]:
    frames = [frame for event in events for frame in renderer.render(event)]
    return [json.loads(frame)["type"] for frame in frames if isinstance(frame, str)]


def renderer() -> Renderer:
    return Renderer("v1", AudioFormat("linear16", 16000), wav_container=False)


def test_the_caller_starting_to_speak_is_told_once_when_the_agent_pauses_for_it() -> None:
    assert told(renderer(), AgentPaused(1), UserStartedSpeaking()) == ["UserStartedSpeaking"]


def test_after_a_resume_the_next_speech_start_is_told() -> None:
    said = told(renderer(), AgentPaused(1), AgentResumed(1), UserStartedSpeaking())
    assert said == ["UserStartedSpeaking", "UserStartedSpeaking"]


def test_a_paused_reply_that_ends_another_way_does_not_swallow_the_next_speech_start() -> None:
    said = told(renderer(), AgentPaused(1), ResponseEnded(1, "cancelled"), UserStartedSpeaking())
    assert said == ["UserStartedSpeaking", "UserStartedSpeaking"]
