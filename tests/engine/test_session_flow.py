"""Openings, typed turns, commands, limits and endings, on a scripted timeline."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from parley.engine.events import (
    AgentAudio,
    AgentStartedSpeaking,
    Disconnected,
    Ended,
    Failure,
    InjectionRefused,
    Interrupt,
    Interrupted,
    PlaybackProgress,
    Reconfigure,
    SayAsAgent,
    StateChanged,
    Stop,
    Transcript,
    UserText,
)
from parley.engine.plan import Opening
from parley.providers.base import ChatRequest, LlmEvent, ProviderError, SpeechChunk
from parley.providers.fakes import FakeModel, FakeSynthesizer, ToneShape
from tests.engine.timeline import Timeline, words

pytestmark = pytest.mark.looptime


async def test_the_greeting_is_spoken_first_as_turn_zero() -> None:
    line = Timeline(opening=Opening("say", "Hello, how can I help?"))
    await line.start()

    await line.audio(until_s=3.0)
    line.send(Stop())
    await line.finish()

    # scripted: no model; the TTS delay (50 ms) is the whole latency
    assert line.at(AgentAudio)[0] == pytest.approx(0.05, abs=0.001)
    [record] = line.transcript.messages()
    assert (record.role, record.text, record.turn) == ("agent", "Hello, how can I help?", 0)
    assert line.llm.requests == []


async def test_an_initial_user_message_is_answered_at_once() -> None:
    line = Timeline(opening=Opening("user", "Where is my parcel?"))
    await line.start()

    await line.audio(until_s=2.0)
    line.send(Stop())
    await line.finish()

    [request] = line.llm.requests
    assert request.turns[-1].text == "Where is my parcel?"
    roles = [(r.role, r.turn) for r in line.transcript.messages()]
    assert roles == [("user", 1), ("agent", 1)]


async def test_initial_context_is_explained_without_becoming_a_user_message() -> None:
    line = Timeline(opening=Opening("context", "The caller's parcel is two days late."))
    await line.start()

    await line.audio(until_s=2.0)
    line.send(Stop())
    await line.finish()

    [request] = line.llm.requests
    assert request.turns[-1].role == "user"
    assert request.turns[-1].text == "The caller's parcel is two days late."
    assert [r.role for r in line.transcript.messages()] == ["agent"]


async def test_typed_text_is_a_turn_and_interrupts_the_agent() -> None:
    line = Timeline(replies=[words("one two three four five six seven eight."), words("Sure.")])
    await line.start()
    line.send(UserText("count to eight"))
    await line.audio(until_s=0.8)

    line.send(UserText("never mind"))
    await line.audio(until_s=2.5)
    line.send(Stop())
    await line.finish()

    # first reply: first token 0.3 s, done 0.37 s, audio from 0.42 s; cut at 0.8 s
    [cut] = line.at(Interrupted)
    assert cut == pytest.approx(0.8, abs=0.021)
    records = [(r.role, r.text, r.interrupted) for r in line.transcript.messages()]
    assert records == [
        ("user", "count to eight", False),
        ("agent", "one two", True),
        ("user", "never mind", False),
        ("agent", "Sure.", False),
    ]
    first = line.of(AgentStartedSpeaking)[0].metrics
    assert (first.endpoint_ms, first.stt_ms) == (None, None)
    assert first.total_ms == pytest.approx(420, abs=21)


async def test_interrupt_stops_the_agent_and_commits_what_was_heard() -> None:
    line = Timeline(replies=[words("one two three four five six seven eight.")])
    await line.start()
    line.send(UserText("count"))
    await line.audio(until_s=1.0)

    line.send(Interrupt())
    await line.audio(until_s=2.0)
    line.send(Stop())
    await line.finish()

    [at] = line.at(Interrupted)
    audio_after = [t for t in line.at(AgentAudio) if t > at]
    assert audio_after == []
    agent = [r for r in line.transcript.messages() if r.role == "agent"]
    assert [(r.text, r.interrupted) for r in agent] == [("one two three", True)]
    assert line.of(StateChanged)[-2].state == "listening"


async def test_playback_reports_refine_what_counts_as_heard() -> None:
    line = Timeline(replies=[words("one two three four five six seven eight.")])
    await line.start()
    line.send(UserText("count"))
    await line.audio(until_s=1.0)

    # The client says it has played only 150 ms so far (a slow start on its side).
    line.send(PlaybackProgress(150))
    line.send(Interrupt())
    await line.audio(until_s=1.5)
    line.send(Stop())
    await line.finish()

    agent = [r for r in line.transcript.messages() if r.role == "agent"]
    assert [(r.text, r.interrupted) for r in agent] == [("one", True)]


async def test_max_turns_ends_the_session_after_the_last_answer() -> None:
    line = Timeline(max_turns=2, replies=[words("First."), words("Second.")])
    await line.start()

    line.send(UserText("one"))
    await line.audio(until_s=1.5)
    line.send(UserText("two"))
    await line.audio(until_s=3.0)
    ended = await line.finish()

    assert ended.reason == "max_turns"
    assert ended.transcript == [
        {"role": "user", "text": "one"},
        {"role": "agent", "text": "First."},
        {"role": "user", "text": "two"},
        {"role": "agent", "text": "Second."},
    ]
    assert line.transcript.ended == "max_turns"
    # the second answer was played out in full before the end
    end_time = line.at(Ended)[0]
    assert end_time >= line.at(AgentAudio)[-1]


async def test_a_disconnect_mid_answer_keeps_everything_said() -> None:
    line = Timeline(replies=[words("one two three four five six seven eight.")])
    await line.start()
    await line.audio(until_s=3.4, speech=[(0.5, 2.0)])

    line.send(Disconnected())
    ended = await line.finish()

    assert ended.reason == "disconnect"
    records = [(r.role, r.text, r.interrupted) for r in line.transcript.messages()]
    assert records[0] == ("user", "what time is it", False)
    assert records[1][0] == "agent" and records[1][2] is True
    assert records[1][1].startswith("one two")
    assert line.transcript.ended == "disconnect"


async def test_a_failing_model_is_reported_and_the_agent_apologises() -> None:
    line = Timeline()

    async def broken(request: ChatRequest) -> AsyncIterator[LlmEvent]:
        raise RuntimeError("upstream 503")
        yield  # pragma: no cover

    line.llm.respond = broken  # type: ignore[method-assign]
    await line.start()
    line.send(UserText("hello?"))
    await line.audio(until_s=2.5)
    line.send(UserText("still there?"))
    await line.audio(until_s=5.0)
    line.send(Stop())
    await line.finish()

    failures = line.of(Failure)
    assert [(f.code, f.fatal) for f in failures] == [("llm_error", False)] * 2
    agent = [r.text for r in line.transcript.messages() if r.role == "agent"]
    assert agent == ["Sorry, I can't answer that right now."] * 2
    assert line.of(Ended)[0].reason == "stop"


async def test_an_unanswered_recognition_drops_the_turn_and_keeps_listening() -> None:
    line = Timeline(stt_delay_ms=10_000)  # the recogniser never answers in time
    await line.start()

    await line.audio(until_s=6.0, speech=[(0.5, 2.0)])
    line.send(Stop())
    await line.finish()

    assert [f.code for f in line.of(Failure)] == ["stt_timeout"]
    assert line.of(AgentStartedSpeaking) == []
    assert line.of(StateChanged)[-2].state == "listening"
    assert [t for t in line.of(Transcript) if t.final] == []


class FailsAfterFirstSentence(FakeSynthesizer):
    def __init__(self) -> None:
        super().__init__(ToneShape(delay_ms=50, seconds=None, word_ms=200))
        self.calls = 0

    async def synthesize(self, text: str) -> AsyncIterator[SpeechChunk]:
        self.calls += 1
        if self.calls > 1:
            raise ProviderError("tts", "the voice service went away")
        async for chunk in super().synthesize(text):
            yield chunk


async def test_a_synthesiser_failing_partway_stores_only_what_was_heard() -> None:
    line = Timeline(
        replies=[words("First part here. Second part never heard.")],
        synthesizer=FailsAfterFirstSentence(),
    )
    await line.start()
    line.send(UserText("talk"))
    await line.audio(until_s=3.0)
    line.send(Stop())
    await line.finish()

    assert [f.code for f in line.of(Failure)] == ["tts_error"]
    agent = [r for r in line.transcript.messages() if r.role == "agent"]
    # cut short by the failure: only the heard part is stored, marked as interrupted
    assert [(r.text, r.interrupted) for r in agent] == [("First part here.", True)]
    assert [e.text for e in line.of(Transcript) if e.final and e.role == "agent"] == [
        "First part here."
    ]


async def test_an_injected_agent_message_is_spoken_when_nobody_is_talking() -> None:
    line = Timeline()
    await line.start()
    await line.audio(until_s=0.5)

    line.send(SayAsAgent("Are you still there?"))
    await line.audio(until_s=2.0)
    line.send(Stop())
    await line.finish()

    assert line.of(InjectionRefused) == []
    assert [(r.role, r.text) for r in line.transcript.messages()] == [
        ("agent", "Are you still there?")
    ]
    assert line.llm.requests == [], "said verbatim, not generated"


async def test_an_injected_agent_message_is_refused_mid_turn() -> None:
    line = Timeline(replies=[words("one two three four five six.")])
    await line.start()
    line.send(UserText("count"))
    await line.audio(until_s=0.8)
    line.send(SayAsAgent("Meanwhile…"))  # the agent is speaking
    await line.audio(until_s=3.0, speech=[(2.5, 3.0)])
    line.send(SayAsAgent("Hello?"))  # the caller is speaking
    await line.audio(until_s=3.1)
    line.send(Stop())
    await line.finish()

    refusals = line.of(InjectionRefused)
    assert [(r.message, r.during) for r in refusals] == [
        ("Meanwhile…", "agent_speech"),
        ("Hello?", "user_speech"),
    ]
    assert all("Meanwhile" not in r.text for r in line.transcript.messages())


async def test_reconfiguring_changes_the_next_response() -> None:
    line = Timeline(replies=[words("First.")])
    replacement = FakeModel(ttft_ms=50, gap_ms=1, script=lambda request: words("Second."))
    await line.start()
    line.send(UserText("one"))
    await line.audio(until_s=1.5)

    line.send(Reconfigure(system_prompt="Speak like a pirate.", llm=replacement))
    line.send(UserText("two"))
    await line.audio(until_s=3.0)
    line.send(Stop())
    await line.finish()

    assert [r.text for r in line.transcript.messages() if r.role == "agent"] == [
        "First.",
        "Second.",
    ]
    assert replacement.requests[0].system_prompt == "Speak like a pirate."
    assert len(line.llm.requests) == 1


async def test_the_agent_announces_speaking_before_its_first_sound() -> None:
    line = Timeline()
    await line.start()
    line.send(UserText("hi"))
    await line.audio(until_s=1.5)
    line.send(Stop())
    await line.finish()

    kinds = line.kinds()
    assert kinds.index("AgentStartedSpeaking") < kinds.index("AgentAudio")


async def test_what_was_heard_is_checkpointed_while_the_agent_speaks() -> None:
    """If the process dies mid-reply, the stored row already holds what was heard so far
    (marked interrupted); the completed reply then replaces it."""
    reply = " ".join(f"w{i}" for i in range(1, 41)) + "."  # 40 words, 8 s of speech
    line = Timeline(replies=[words(reply)])
    await line.start()
    line.send(UserText("talk"))

    await line.audio(until_s=1.5)
    assert [r for r in line.transcript.messages() if r.role == "agent"] == []  # < 2 s heard
    await line.audio(until_s=3.0)
    [early] = [r for r in line.transcript.messages() if r.role == "agent"]
    await line.audio(until_s=5.0)
    [later] = [r for r in line.transcript.messages() if r.role == "agent"]
    await line.audio(until_s=10.0)
    line.send(Stop())
    await line.finish()

    assert early.interrupted and reply.startswith(early.text) and len(early.text) < len(reply)
    assert later.interrupted and len(early.text) < len(later.text) < len(reply)
    [done] = [r for r in line.transcript.messages() if r.role == "agent"]
    assert (done.text, done.interrupted) == (reply, False)
