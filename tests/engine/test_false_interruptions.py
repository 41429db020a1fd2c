"""`interruption: confirm` on a scripted timeline: speech over the agent pauses it at once;
a backchannel or a cough resumes it from where it paused, words stop it for good.

The caller's first turn (0.5–2.0 s) is answered with a 12-word reply, one word every 200 ms,
whose audio starts at 2.96 s; the caller then talks over it at 3.5 s. Speech over an agent
that a pause would hold counts once it has lasted `CONFIRM_START_MS` (96; a turn's onset
waits `start_ms`, 150), so the agent pauses at 3.6 s (the frame that completes it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from parley.engine.agent import VadSettings
from parley.engine.events import (
    AgentAudio,
    AgentPaused,
    AgentResumed,
    BargeInResolved,
    EndTurn,
    Interrupt,
    Interrupted,
    Stop,
    Transcript,
    TurnTaking,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)
from parley.providers.base import RecognitionListener, Transcription
from parley.providers.fakes import FakeRecognizer
from tests.engine.timeline import PCM16K, Timeline, words

pytestmark = pytest.mark.looptime

LONG_REPLY = "one two three four five six seven eight nine ten eleven twelve."
REPLY_S = 12 * 0.2
CONFIRM = VadSettings(interruption="confirm")
PAUSE_AT = 3.6


def reply_line(caller_says: str, vad: VadSettings = CONFIRM, **options: object) -> Timeline:
    return Timeline(
        stt_texts=["tell me a story", caller_says],
        replies=[words(LONG_REPLY), words("Okay.")],
        vad=vad,
        **options,  # type: ignore[arg-type]
    )


async def run(line: Timeline, until_s: float, speech: list[tuple[float, float]]) -> None:
    await line.start()
    await line.audio(until_s=until_s, speech=speech)
    line.send(Stop())
    await line.finish()


def audio_seconds(line: Timeline, start: float = 0.0, end: float = 1e9) -> float:
    sent = [e for t, e in line.events if isinstance(e, AgentAudio) and start <= t < end]
    return sum(len(e.data) for e in sent) / PCM16K.bytes_for_ms(1000)


def agent_rows(line: Timeline) -> list[tuple[str, bool]]:
    return [(r.text, r.interrupted) for r in line.transcript.messages() if r.role == "agent"]


@pytest.mark.parametrize(
    ("said", "reason"),
    [("uh-huh", "backchannel"), ("Mm-hmm. Yeah.", "backchannel"), ("", "noise")],
)
async def test_a_backchannel_or_noise_pauses_the_agent_then_it_goes_on(
    said: str, reason: str
) -> None:
    line = reply_line(said)
    await run(line, 9.0, [(0.5, 2.0), (3.5, 3.9)])

    [paused_at] = line.at(AgentPaused)
    assert paused_at == pytest.approx(PAUSE_AT, abs=0.001)
    # speech ends 3.9 s → its silence rule ends it at 4.25 s → its transcript at 4.4 s
    [resumed_at] = line.at(AgentResumed)
    assert resumed_at == pytest.approx(4.4, abs=0.001)
    assert audio_seconds(line, paused_at, resumed_at) == 0  # silent while paused
    assert line.of(Interrupted) == [] and line.of(UserStartedSpeaking)[1:] == []
    [resolved] = line.of(BargeInResolved)
    assert (resolved.barge_in.outcome, resolved.barge_in.reason) == ("resumed", reason)
    assert resolved.barge_in.paused_ms == pytest.approx(800, abs=1)  # 3.6 s → 4.4 s
    assert resolved.barge_in.heard == said
    # the whole reply is heard and kept; the audio the client dropped was sent again
    assert agent_rows(line) == [(LONG_REPLY, False)]
    finals = [t.text for t in line.of(Transcript) if t.role == "agent" and t.final]
    assert finals == [LONG_REPLY]
    resent = audio_seconds(line) - REPLY_S
    assert 0 < resent <= 0.26 + 1e-9  # the lead and a bunch at most
    # not a turn: the model was asked once, and the caller's backchannel is on record
    assert [r.role for r in line.transcript.messages()] == ["user", "agent"]
    [agent] = [r for r in line.transcript.messages() if r.role == "agent"]
    assert agent.metrics is not None
    assert agent.metrics["barge_ins"] == [resolved.barge_in.as_dict()]


async def test_words_over_the_paused_agent_stop_it_where_it_paused() -> None:
    line = reply_line("stop please")
    await run(line, 9.0, [(0.5, 2.0), (3.5, 4.0)])

    assert line.at(AgentPaused) == [pytest.approx(PAUSE_AT, abs=0.001)]
    # speech ends 4.0 s → 4.35 s → its transcript at 4.5 s: words, a barge-in
    [interrupted_at] = line.at(Interrupted)
    assert interrupted_at == pytest.approx(4.5, abs=0.001)
    assert line.of(AgentResumed) == []
    [resolved] = line.of(BargeInResolved)
    assert (resolved.barge_in.outcome, resolved.barge_in.reason) == ("confirmed", "words")
    # cut at the pause, 0.7 s into the reply (words at 0, 200, 400, 600 ms were heard),
    # not at the barge-in's confirmation 0.84 s later
    assert agent_rows(line)[0] == ("one two three four", True)
    users = [r.text for r in line.transcript.messages() if r.role == "user"]
    assert users == ["tell me a story", "stop please"]  # and it is answered
    assert agent_rows(line)[1] == ("Okay.", False)


async def test_speech_that_goes_on_is_a_barge_in_without_waiting_for_its_words() -> None:
    line = reply_line("i said i wanted something else entirely")
    await run(line, 10.0, [(0.5, 2.0), (3.5, 5.5)])

    [interrupted_at] = line.at(Interrupted)
    assert interrupted_at == pytest.approx(3.5 + 1.5, abs=0.001)  # CONFIRM_LONG_MS
    [resolved] = line.of(BargeInResolved)
    assert resolved.barge_in.reason == "long"
    assert agent_rows(line)[0] == ("one two three four", True)


async def test_a_sound_shorter_than_min_interruption_ms_resumes_without_recognition() -> None:
    line = reply_line("uh", vad=CONFIRM.model_copy(update={"min_interruption_ms": 300}))
    await run(line, 9.0, [(0.5, 2.0), (3.5, 3.74)])

    # 240 ms of sound (an onset at 150 ms), under 300 ms: back at its end of turn, 3.74 +
    # 0.35 s, with no transcript awaited
    [resumed_at] = line.at(AgentResumed)
    assert resumed_at == pytest.approx(4.09, abs=0.001)
    [resolved] = line.of(BargeInResolved)
    assert resolved.barge_in.reason == "short"
    assert agent_rows(line) == [(LONG_REPLY, False)]


class PartialSoon(FakeRecognizer):
    """A streaming recogniser: a partial transcript 200 ms into the utterance."""

    def __init__(
        self,
        listener: RecognitionListener,
        line: Timeline,
        partial: str,
        final: str,
        after_s: float = 0.2,
    ) -> None:
        super().__init__(listener, delay_ms=150, texts=["tell me a story", final])
        self._said, self._line, self._after_s = partial, line, after_s

    def begin(self, utterance: int) -> None:
        super().begin(utterance)
        if utterance > 1:
            loop = asyncio.get_running_loop()
            result = Transcription(utterance, self._said, final=False)
            loop.call_later(self._after_s, self._listener.on_transcription, result)


async def test_a_partial_transcript_with_words_confirms_the_barge_in_at_once() -> None:
    line = reply_line("wait a second i need")
    line.recognizer = lambda listener: PartialSoon(
        listener, line, "Wait a second", "wait a second i need"
    )
    await run(line, 9.0, [(0.5, 2.0), (3.5, 4.3)])

    [interrupted_at] = line.at(Interrupted)
    assert interrupted_at == pytest.approx(PAUSE_AT + 0.2, abs=0.001)
    assert line.of(BargeInResolved)[0].barge_in.reason == "words"


@pytest.mark.parametrize("partial", ["I-D", "And mm-hmm", "wait"])
async def test_a_partial_of_one_or_two_words_leaves_the_verdict_to_the_final(
    partial: str,
) -> None:
    # A fragment decoded mid-sound: "I see" cut after its "I" reads "I-D". Speech 3.5-3.9 s,
    # the partial at 3.86 s, the final "I see." at 4.4 s: the agent goes on.
    line = reply_line("I see.")
    line.recognizer = lambda listener: PartialSoon(listener, line, partial, "I see.")
    await run(line, 9.0, [(0.5, 2.0), (3.5, 3.9)])

    assert line.of(Interrupted) == []
    [resolved] = line.of(BargeInResolved)
    assert (resolved.barge_in.outcome, resolved.barge_in.reason) == ("resumed", "backchannel")
    assert line.at(AgentResumed) == [pytest.approx(4.4, abs=0.001)]


async def test_a_partial_that_comes_after_the_speech_leaves_the_verdict_to_the_final() -> None:
    # speech 3.5-3.9 s, its end of turn at 4.25 s; a late partial with words at 4.31 s, the
    # final at 4.4 s: the final decides, and the caller's speech is told as begun and ended
    line = reply_line("wait a second")
    line.recognizer = lambda listener: PartialSoon(
        listener, line, "wait", "wait a second", after_s=0.65
    )
    await run(line, 9.0, [(0.5, 2.0), (3.5, 3.9)])

    assert line.at(Interrupted) == [pytest.approx(4.4, abs=0.001)]
    assert len(line.of(UserStartedSpeaking)) == len(line.of(UserStoppedSpeaking)) == 2


async def test_a_partial_backchannel_does_not_confirm() -> None:
    line = reply_line("uh-huh")
    line.recognizer = lambda listener: PartialSoon(listener, line, "uh", "uh-huh")
    await run(line, 9.0, [(0.5, 2.0), (3.5, 3.9)])

    assert line.of(Interrupted) == []
    assert line.of(AgentResumed)


async def test_a_backchannel_while_the_agent_thinks_holds_its_first_words() -> None:
    # The reply is asked at 2.5 s and its audio would start at 2.96 s; "uh-huh" at 2.55 s
    # holds it (nothing has been sent, so nothing is dropped) until its transcript at 3.4 s.
    line = reply_line("uh-huh")
    await run(line, 9.0, [(0.5, 2.0), (2.55, 2.9)])

    assert line.of(AgentPaused) == [] and line.of(AgentResumed) == []
    first = line.at(AgentAudio)[0]
    assert first == pytest.approx(3.4, abs=0.001)
    assert audio_seconds(line, first, first + 0.05) <= 0.26 + 1e-9  # paced, not a burst
    assert audio_seconds(line) == pytest.approx(REPLY_S)  # nothing sent twice
    assert agent_rows(line) == [(LONG_REPLY, False)]


async def test_immediate_stops_the_agent_for_good_on_a_backchannel() -> None:
    line = reply_line("uh-huh", vad=VadSettings(interruption="immediate"))
    await run(line, 9.0, [(0.5, 2.0), (3.5, 3.9)])

    assert line.at(Interrupted) == [pytest.approx(3.7, abs=0.001)]
    assert line.of(AgentPaused) == [] and line.of(BargeInResolved) == []


async def test_a_client_interrupt_while_paused_cuts_the_reply_and_nothing_resumes() -> None:
    line = reply_line("uh-huh")
    await line.start()
    await line.audio(until_s=3.8, speech=[(0.5, 2.0), (3.5, 3.9)])
    line.send(Interrupt())
    await line.audio(until_s=9.0)
    line.send(Stop())
    await line.finish()

    assert len(line.of(Interrupted)) == 1
    assert line.of(AgentResumed) == []
    assert agent_rows(line)[0] == ("one two three four", True)
    assert audio_seconds(line, 3.8) == 0


class Expecting(FakeRecognizer):
    """The fake recogniser, noting what each utterance was expected to say."""

    def __init__(self, listener: RecognitionListener, told: list[tuple[str, ...]]) -> None:
        super().__init__(listener, delay_ms=150, texts=["tell me a story", "uh-huh"])
        self._told = told

    def begin(self, utterance: int) -> None:
        super().begin(utterance)
        self._told.append(())

    def expect(self, phrases: Sequence[str]) -> None:
        self._told[-1] = tuple(phrases)


@pytest.mark.parametrize("interruption", ["confirm", "immediate"])
async def test_speech_over_a_paused_agent_is_expected_to_be_a_backchannel(
    interruption: str,
) -> None:
    told: list[tuple[str, ...]] = []
    line = reply_line("uh-huh", vad=VadSettings(interruption=interruption))  # type: ignore[arg-type]
    line.recognizer = lambda listener: Expecting(listener, told)
    await run(line, 9.0, [(0.5, 2.0), (3.5, 3.9)])

    first, over_the_agent = told
    assert first == ()  # the caller's own turn: nothing expected
    assert ("Uh-huh." in over_the_agent) == (interruption == "confirm")


async def test_a_paused_agent_goes_on_when_the_next_speech_may_not_interrupt_it() -> None:
    # A backchannel pauses the agent (4.0-4.3 s; its transcript is slow). Meanwhile the
    # client turns barge-in off, and the caller speaks again before that transcript: the new
    # speech may not interrupt, so it cannot take the pause over; the agent goes on from
    # where it paused, and the caller's turn is answered after it.
    line = reply_line("uh-huh", stt_delay_ms=600)
    line.stt_texts = ["tell me a story", "uh-huh", "what time is it"]
    await line.start()
    await line.audio(until_s=4.8, speech=[(0.5, 2.0), (4.0, 4.3)])
    assert line.of(AgentPaused)
    line.send(TurnTaking(barge_in=False))
    await line.audio(until_s=14.0, speech=[(4.9, 5.6)])
    line.send(Stop())
    await line.finish()

    [resumed_at] = line.at(AgentResumed)
    assert resumed_at == pytest.approx(5.06, abs=0.001)  # the new speech counts (its onset)
    [resolved] = line.of(BargeInResolved)
    assert (resolved.barge_in.outcome, resolved.barge_in.reason) == ("resumed", "unheard")
    assert line.of(Interrupted) == []
    assert agent_rows(line) == [(LONG_REPLY, False), ("Okay.", False)]


async def test_a_backchannel_settled_after_the_client_took_over_the_turns_keeps_the_next() -> None:
    # The agent is paused by "uh-huh" (4.0-4.3 s, a slow transcript); at 4.8 s the client
    # starts ending the turns itself; the backchannel is settled at 5.25 s and the agent goes
    # on. What the caller says next (6.0-7.0 s) is heard in full and committed at 7.2 s.
    line = reply_line("uh-huh", stt_delay_ms=600)
    line.stt_texts = ["tell me a story", "uh-huh", "what time is it"]
    await line.start()
    await line.audio(until_s=4.8, speech=[(0.5, 2.0), (4.0, 4.3)])
    line.send(TurnTaking(auto_end=False, answer=False, barge_in=False))
    await line.audio(until_s=7.2, speech=[(6.0, 7.0)])
    line.send(EndTurn())
    await line.audio(until_s=9.0)
    line.send(Stop())
    await line.finish()

    assert line.of(AgentResumed)
    assert line.of(UserStoppedSpeaking)[-1].speech
    users = [r.text for r in line.transcript.messages() if r.role == "user"]
    assert users == ["tell me a story", "what time is it"]


async def test_speech_that_pauses_across_the_long_mark_and_goes_on_is_a_barge_in() -> None:
    # 3.5-4.9 s, a breath (4.9-5.15 s) across the 1.5 s mark (5.0 s), then on to 6.0 s:
    # a barge-in as the speech resumes, whatever its words turn out to be
    line = reply_line("yeah yeah yeah yeah")
    await run(line, 10.0, [(0.5, 2.0), (3.5, 4.9), (5.15, 6.0)])

    [interrupted_at] = line.at(Interrupted)
    assert 5.15 <= interrupted_at < 5.25
    assert line.of(AgentResumed) == []
    [resolved] = line.of(BargeInResolved)
    assert (resolved.barge_in.outcome, resolved.barge_in.reason) == ("confirmed", "long")


async def test_speech_over_a_pausable_agent_counts_sooner_than_a_turns_onset() -> None:
    # a turn's onset waits `start_ms` (150: 0.5 → 0.66 s); over the agent, a pause waits
    # `CONFIRM_START_MS` (96: 3.5 → 3.6 s); a 120 ms sound pauses it, and it goes on
    line = reply_line("")
    await run(line, 9.0, [(0.5, 2.0), (3.5, 3.62)])

    assert line.at(UserStartedSpeaking) == [pytest.approx(0.66, abs=0.001)]
    assert line.at(AgentPaused) == [pytest.approx(3.6, abs=0.001)]
    [resolved] = line.of(BargeInResolved)
    assert (resolved.barge_in.outcome, resolved.barge_in.reason) == ("resumed", "short")
    assert agent_rows(line) == [(LONG_REPLY, False)]


async def test_a_start_ms_shorter_than_the_pauses_own_is_kept() -> None:
    line = reply_line("uh-huh", vad=VadSettings(interruption="confirm", start_ms=40))
    await run(line, 9.0, [(0.5, 2.0), (3.5, 3.9)])

    assert line.at(AgentPaused) == [pytest.approx(3.54, abs=0.001)]
