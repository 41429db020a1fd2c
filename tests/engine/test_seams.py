"""Bugs that lived in the seams between the actor, the VAD callbacks and the timers.

Each test reproduces one on the scripted timeline; they failed before the session's state
moved into one core (`engine/core`).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable

import pytest

from parley.audio.pcm import Int16Array
from parley.engine.agent import FunctionTool
from parley.engine.events import (
    Failure,
    PlaybackProgress,
    Stop,
    ToolCallUpdate,
    Transcript,
    UserAudio,
    UserStoppedSpeaking,
    UserText,
)
from parley.engine.tools import ToolDefinition
from parley.providers.base import ToolAnswer, ToolCall, ToolCallRequest
from parley.providers.fakes import FakeRecognizer
from parley.providers.vad.fake import LoudnessDetector
from tests.engine.timeline import LateVad, Timeline, words

pytestmark = pytest.mark.looptime


def user_turns(line: Timeline) -> list[str]:
    return [t.text for t in line.of(Transcript) if t.role == "user" and t.final]


class DroppingRecognizer(FakeRecognizer):
    """A streaming recogniser whose connection drops 300 ms into the first utterance."""

    def begin(self, utterance: int) -> None:
        super().begin(utterance)
        if utterance == 1:
            error = ConnectionError("the recognition stream dropped")
            asyncio.get_running_loop().call_later(
                0.3, self._listener.on_recognition_error, utterance, error
            )


async def test_a_recognition_error_mid_utterance_does_not_leave_the_session_deaf() -> None:
    line = Timeline(
        recognizer=lambda listener: DroppingRecognizer(
            listener, delay_ms=150, texts=["what time is it"]
        )
    )
    await line.start()

    await line.audio(until_s=8.0, speech=[(0.5, 2.0), (4.0, 5.0)])
    line.send(Stop())
    await line.finish()

    assert [f.code for f in line.of(Failure)] == ["stt_error"]
    # What the caller said after the drop is heard afresh (the rest of the first utterance
    # as a new one), and so is the next utterance, 4.0-5.0 s.
    heard_at = [t for t, e in line.events if isinstance(e, Transcript) and e.role == "user"]
    assert any(5.0 < t < 6.0 for t in heard_at)
    assert any(t.role == "agent" and t.final for t in line.of(Transcript))


async def test_a_stale_endpoint_alarm_cannot_end_a_turn_the_caller_resumed() -> None:
    # Speech 0.5-2.0 s, a pause, more speech from 2.28 s. Silence dates from 2.0 s, so the
    # endpoint alarm is due at 2.35 s; the result for the frame that resumes speech
    # ([2.28, 2.30) s) arrives in the same loop step, just before the alarm fires. The
    # caller never paused for 350 ms: this is one turn.
    line = Timeline(stt_texts=["what time is it in", "tokyo"], detector=LateVad(0.05 - 3e-7))
    await line.start()

    await line.audio(until_s=6.0, speech=[(0.5, 2.0), (2.28, 3.0)])
    line.send(Stop())
    await line.finish()

    assert user_turns(line) == ["what time is it in"]


async def test_a_silence_timer_waits_for_a_lagging_vad_to_say_the_caller_went_on() -> None:
    # Speech 0.5-2.0 s, a 250 ms gap, more speech: one turn under a 350 ms endpoint. But
    # the VAD answers 400 ms late (a starved machine): the silence is told at ~2.5 s, when
    # its endpoint (2.35 s) is already past, and the answers that say the caller spoke
    # again at 2.25 s are still on their way. The endpoint must wait for them.
    line = Timeline(
        stt_texts=["how long does delivery take", "to the centre"], detector=LateVad(0.4)
    )
    await line.start()

    await line.audio(until_s=6.0, speech=[(0.5, 2.0), (2.25, 3.0)])
    line.send(Stop())
    await line.finish()

    assert user_turns(line) == ["how long does delivery take"]
    ended = line.at(UserStoppedSpeaking)
    assert len(ended) == 1 and ended[0] > 3.3  # after the real end of speech, heard late


async def test_a_lagging_vad_still_ends_a_real_pause() -> None:
    line = Timeline(detector=LateVad(0.4))
    await line.start()

    await line.audio(until_s=5.0, speech=[(0.5, 2.0)])
    line.send(Stop())
    await line.finish()

    assert user_turns(line) == ["what time is it"]
    (ended,) = line.at(UserStoppedSpeaking)
    assert 2.3 < ended < 2.0 + 0.35 + 0.4 + 0.2  # the endpoint, once the VAD has told it


LOOKUP = FunctionTool(
    name="lookup_order",
    description="Find an order",
    parameters={"type": "object", "properties": {}},
    endpoint={"url": "https://orders.example.com/lookup"},  # type: ignore[arg-type]
)


class AnswersAtOnce:
    """A server-side tool runner that answers every call immediately."""

    def __init__(self) -> None:
        self.calls = 0

    async def run(
        self, tool: ToolDefinition, arguments: dict[str, object], facts: dict[str, object]
    ) -> ToolAnswer:
        self.calls += 1
        return ToolAnswer('{"status": "not yet"}')


async def test_max_tool_rounds_holds_when_the_model_ignores_it() -> None:
    # A model that calls the tool whatever it is told (allow_tools=False included).
    stubborn = [
        [*words(f"Try {i}."), ToolCallRequest(ToolCall(f"call_{i}", "lookup_order", {}))]
        for i in range(12)
    ]
    runner = AnswersAtOnce()
    line = Timeline(
        tools=[LOOKUP],
        replies=stubborn,
        server_tools=runner,
        plan_options={"max_tool_rounds": 3},
    )
    await line.start()
    line.send(UserText("where is my order"))
    await line.audio(until_s=20.0)
    line.send(Stop())
    ended = await line.finish()

    assert runner.calls == 3  # dispatched: only the rounds the cap allows
    allowed = [r.allow_tools for r in line.llm.requests]
    assert allowed[:3] == [True, True, True]
    assert len(allowed) <= 5 and not any(allowed[3:])  # then a final answer, without tools
    refused = [u for u in line.of(ToolCallUpdate) if u.status == "failed"]
    assert refused and all("limit" in (u.result or "") for u in refused)
    assert ended.reason == "stop"
    assert any(t.role == "agent" and t.final for t in line.of(Transcript))


class CountingVad(LoudnessDetector):
    def __init__(self) -> None:
        super().__init__(frame_samples=320)
        self.frames = 0

    def analyse(self, frame: Int16Array, deliver: Callable[[float], None]) -> None:
        self.frames += 1
        super().analyse(frame, deliver)


async def test_stop_goes_ahead_of_a_backlog_of_audio() -> None:
    vad = CountingVad()
    line = Timeline(detector=vad)
    await line.start()
    await line.audio(until_s=0.2)
    await line.until(0.25)  # the actor is idle, every frame so far analysed
    analysed = vad.frames
    line.send(PlaybackProgress(0.0))  # the actor is woken, so the audio waits behind it
    for _ in range(300):  # six seconds of audio the actor has not got to yet
        line.send(UserAudio(bytes(640)))
    line.send(Stop())
    ended = await line.finish()

    assert ended.reason == "stop"
    assert vad.frames == analysed  # the backlog was never worked through


async def test_audio_to_an_idle_actor_is_heard_at_once_and_in_order() -> None:
    vad = CountingVad()
    line = Timeline(detector=vad)
    await line.start()
    await line.until(0.1)  # the actor is parked on an empty inbox
    line.send(UserAudio(bytes(640)))
    assert vad.frames == 1  # analysed in the sender's step, before any task switch
    line.send(PlaybackProgress(0.0))
    line.send(UserAudio(bytes(640)))
    assert vad.frames == 1  # behind a waiting command: the actor takes it, in order
    await line.until(0.2)
    assert vad.frames == 2


CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="nobody")


async def test_a_step_taken_in_place_runs_in_the_actors_context() -> None:
    """Audio handed over from elsewhere (a socket's callback) is stepped in the session's
    context variables, as the actor's own steps are: its log lines keep their session."""
    seen: list[str] = []

    class Witness(CountingVad):
        def analyse(self, frame: Int16Array, deliver: Callable[[float], None]) -> None:
            seen.append(CALLER.get())
            super().analyse(frame, deliver)

    line = Timeline(detector=Witness())

    async def open_session() -> None:  # the session's task, as the host's would be
        CALLER.set("the session")
        await line.start()

    await asyncio.create_task(open_session())
    await line.until(0.1)  # the actor is parked
    line.send(UserAudio(bytes(640)))  # from this task, whose context knows no session

    assert seen == ["the session"] and CALLER.get() == "nobody"


async def test_a_failure_while_hearing_at_once_ends_the_conversation_as_the_actor_would() -> None:
    class Broken(CountingVad):
        def analyse(self, frame: Int16Array, deliver: Callable[[float], None]) -> None:
            raise RuntimeError("the VAD broke")

    line = Timeline(detector=Broken())
    await line.start()
    await line.until(0.1)
    line.send(UserAudio(bytes(640)))  # raises inside the sender's call: it must not escape
    ended = await line.finish()
    assert ended.reason == "error"
    assert any(f.code == "internal_error" for f in line.of(Failure))
