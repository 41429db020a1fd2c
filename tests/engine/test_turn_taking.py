"""Turn-taking on a scripted timeline: endpointing, latency accounting, barge-in."""

from __future__ import annotations

import pytest

from parley.engine.agent import VadSettings
from parley.engine.events import (
    AgentAudio,
    AgentStartedSpeaking,
    Interrupted,
    StateChanged,
    Stop,
    Transcript,
    UserStartedSpeaking,
)
from parley.providers.base import RecognitionListener
from parley.providers.fakes import FakeRecognizer
from tests.engine.timeline import Timeline, words

pytestmark = pytest.mark.looptime


async def test_a_spoken_turn_is_answered_after_the_endpoint() -> None:
    line = Timeline()  # caller speaks 0.5–2.0 s; STT +150 ms; LLM first token +300 ms
    await line.start()

    await line.audio(until_s=5.0, speech=[(0.5, 2.0)])
    line.send(Stop())
    await line.finish()

    [started] = line.at(UserStartedSpeaking)
    assert started == pytest.approx(0.66, abs=0.021)  # onset + start_ms 150, frame-quantised
    user = [t for t in line.of(Transcript) if t.role == "user" and t.final]
    assert [u.text for u in user] == ["what time is it"]
    [speaking] = line.of(AgentStartedSpeaking)
    m = speaking.metrics
    assert m.endpoint_ms == pytest.approx(350, abs=1)
    assert m.stt_ms == pytest.approx(150, abs=1)
    assert m.llm_ttft_ms == pytest.approx(300, abs=1)
    assert m.tts_ttfb_ms == pytest.approx(50, abs=1)
    # speech end 2.0 → +350 endpoint → +150 STT → +300 first token → sentence done at the
    # 4th token (+30) → +50 TTS → first frame
    assert m.total_ms == pytest.approx(880, abs=2)
    [first_frame] = line.at(AgentAudio)[:1]
    assert first_frame == pytest.approx(2.88, abs=0.002)
    states = [s.state for s in line.of(StateChanged)]
    assert states[:4] == ["listening", "thinking", "speaking", "listening"]


LONG_REPLY = "one two three four five six seven eight nine ten eleven twelve."


async def test_barge_in_truncates_to_heard_audio() -> None:
    line = Timeline(
        stt_texts=["tell me a story", "stop please"], replies=[words(LONG_REPLY), words("Okay.")]
    )
    await line.start()

    # The reply is one sentence of 12 tokens (done at 2.91 s), so the agent starts speaking
    # at 2.96 s, 200 ms a word; the caller talks over it at 3.5 s.
    await line.audio(until_s=6.0, speech=[(0.5, 2.0), (3.5, 4.5)])
    line.send(Stop())
    await line.finish()

    assert line.at(AgentAudio)[0] == pytest.approx(2.96, abs=0.001)
    [interrupted_at] = line.at(Interrupted)
    # onset 3.5 s + min_interruption_ms 200 → cut at 3.7 s, after 0.74 s of playback: the
    # words starting at 0, 200, 400 and 600 ms were heard.
    assert interrupted_at == pytest.approx(3.7, abs=0.001)
    cut = next(r for r in line.transcript.messages() if r.role == "agent")
    assert cut.text == "one two three four"
    assert cut.interrupted is True
    first = [t for t, e in line.events if isinstance(e, AgentAudio) and t < interrupted_at]
    assert all(t < interrupted_at for t in first)
    speech_started = line.at(UserStartedSpeaking)
    assert speech_started[1] == pytest.approx(3.7, abs=0.001)
    users = [r.text for r in line.transcript.messages() if r.role == "user"]
    assert users == ["tell me a story", "stop please"]
    finals = [e.text for e in line.of(Transcript) if e.role == "agent" and e.final]
    assert finals[0] == "one two three four"


async def test_a_short_sound_over_the_agent_does_not_interrupt() -> None:
    line = Timeline(replies=[words(LONG_REPLY)], vad=VadSettings(min_interruption_ms=400))
    await line.start()

    # 250 ms of sound at 3.5 s: speech (start_ms 150) but shorter than min_interruption_ms.
    await line.audio(until_s=6.5, speech=[(0.5, 2.0), (3.5, 3.75)])
    line.send(Stop())
    await line.finish()

    assert line.of(Interrupted) == []
    agent = [r for r in line.transcript.messages() if r.role == "agent"]
    assert [(r.text, r.interrupted) for r in agent] == [(LONG_REPLY, False)]
    assert [r.role for r in line.transcript.messages()] == ["user", "agent"]


async def test_turns_shorter_than_min_turn_ms_are_ignored() -> None:
    line = Timeline(vad=VadSettings(min_turn_ms=500))
    await line.start()

    await line.audio(until_s=2.0, speech=[(0.5, 0.8)])
    line.send(Stop())
    await line.finish()

    assert line.of(AgentStartedSpeaking) == []
    assert line.transcript.messages() == []


async def test_a_pause_shorter_than_the_endpoint_does_not_end_the_turn() -> None:
    line = Timeline()
    await line.start()

    await line.audio(until_s=4.0, speech=[(0.5, 1.0), (1.2, 2.0)])
    line.send(Stop())
    await line.finish()

    [speaking] = line.of(AgentStartedSpeaking)
    assert speaking.metrics.total_ms == pytest.approx(880, abs=2)  # timed from 2.0 s
    assert len([r for r in line.transcript.messages() if r.role == "user"]) == 1


async def test_endpoint_ms_sets_how_long_silence_must_last() -> None:
    line = Timeline(vad=VadSettings(endpoint_ms=800))
    await line.start()

    await line.audio(until_s=4.0, speech=[(0.5, 1.0), (1.5, 2.0)])
    line.send(Stop())
    await line.finish()

    [speaking] = line.of(AgentStartedSpeaking)
    assert speaking.metrics.endpoint_ms == pytest.approx(800, abs=1)
    assert line.at(AgentAudio)[0] == pytest.approx(2.0 + 0.8 + 0.15 + 0.33 + 0.05, abs=0.002)


class _Hinted(FakeRecognizer):
    """The fake recogniser, noting when it was told the caller paused and resumed."""

    def __init__(self, listener: RecognitionListener, line: Timeline) -> None:
        super().__init__(listener, delay_ms=150, texts=["what time is it"])
        self.line = line
        self.hints: list[tuple[str, float]] = []

    def pause(self) -> None:
        self.hints.append(("pause", self.line.now()))

    def resume(self) -> None:
        self.hints.append(("resume", self.line.now()))

    def finish(self) -> None:
        self.hints.append(("finish", self.line.now()))
        super().finish()


async def test_the_recogniser_hears_each_pause_before_the_turn_ends() -> None:
    made: list[_Hinted] = []
    line = Timeline()

    def recognizer(listener: RecognitionListener) -> _Hinted:
        made.append(_Hinted(listener, line))
        return made[-1]

    line.recognizer = recognizer
    await line.start()

    # speech 0.5–1.2 s, a 200 ms gap (shorter than the 350 ms endpoint), speech to 2.0 s
    await line.audio(until_s=4.0, speech=[(0.5, 1.2), (1.4, 2.0)])
    line.send(Stop())
    await line.finish()

    hints = made[0].hints
    assert [kind for kind, _ in hints] == ["pause", "resume", "pause", "finish"]
    pause, resume, last_pause, finish = (at for _, at in hints)
    assert 1.2 <= pause < resume <= 1.45  # the gap, as the VAD saw it
    assert 2.0 <= last_pause < finish  # the last silence is hinted before the endpoint fires
    assert finish == pytest.approx(2.35, abs=0.03)  # 350 ms after the speech ended
