"""Semantic end of turn on a scripted timeline: the end-of-turn model, asked when the caller
falls silent, ends a finished turn early and lets a caller pause mid-sentence.

The model here is scripted (`FakeTurnModel`: each question's probability in order, 50 ms to
answer); the real one is tested in tests/providers/test_smart_turn.py.
"""

from __future__ import annotations

import asyncio

import pytest

from parley.engine.agent import VadSettings
from parley.engine.events import AgentStartedSpeaking, Stop, Transcript
from parley.engine.measures import EndOfTurn
from parley.providers.base import ProviderError, RecognitionListener, Transcription
from parley.providers.fakes import FakeRecognizer, FakeTurnModel
from tests.engine.timeline import LateVad, Timeline

pytestmark = pytest.mark.looptime

SEMANTIC = VadSettings(turn_detection="semantic", max_endpoint_ms=2000)


class PartialOnPause(FakeRecognizer):
    """A recogniser that, like Whisper's speculative decode or pocketsphinx's hypothesis,
    tells the utterance's words so far when the caller falls silent (`punctuated`: as
    Whisper does)."""

    def __init__(
        self, listener: RecognitionListener, partial: str, final: str, punctuated: bool = False
    ) -> None:
        super().__init__(listener, delay_ms=150, texts=[final])
        self._partial, self._punctuated = partial, punctuated

    def pause(self) -> None:
        if self._utterance is not None:
            said = Transcription(self._utterance, self._partial, False, punctuated=self._punctuated)
            self._listener.on_transcription(said)


def semantic_line(
    answers: list[float | Exception],
    *,
    vad: VadSettings = SEMANTIC,
    said: str = "what time is it",
    partial: str | None = None,
    punctuated: bool = False,
    delay_ms: float = 50,
) -> tuple[Timeline, FakeTurnModel]:
    model = FakeTurnModel(answers, delay_ms=delay_ms)
    line = Timeline(
        vad=vad,
        turn_model=model,
        recognizer=lambda listener: PartialOnPause(listener, partial or said, said, punctuated),
    )
    return line, model


def user_turns(line: Timeline) -> list[str]:
    return [t.text for t in line.of(Transcript) if t.role == "user" and t.final]


def ends_of_turns(line: Timeline) -> list[EndOfTurn]:
    ends = [s.metrics.end_of_turn for s in line.of(AgentStartedSpeaking)]
    assert all(end is not None for end in ends)
    return [end for end in ends if end is not None]


async def talk(line: Timeline, until_s: float, speech: list[tuple[float, float]]) -> None:
    await line.start()
    await line.audio(until_s=until_s, speech=speech)
    line.send(Stop())
    await line.finish()


async def test_a_finished_turn_ends_when_the_model_says_so() -> None:
    line, model = semantic_line([0.92])
    await talk(line, 5.0, [(0.5, 2.0)])

    # silence from 2.0 s: asked at +150 ms, answered 50 ms later: the turn ends at 2.2 s,
    # not at the 350 ms of the silence rule
    [end] = ends_of_turns(line)
    assert end.mode == "semantic" and end.decided_by == "model"
    assert end.silence_ms == pytest.approx(200, abs=1)
    assert end.score == pytest.approx(0.92) and end.checks == 1
    [speaking] = line.of(AgentStartedSpeaking)
    assert speaking.metrics.endpoint_ms == pytest.approx(200, abs=1)
    assert user_turns(line) == ["what time is it"]
    assert model.asked == [pytest.approx(2.15 * 16000, abs=320)]  # the call's audio so far


async def test_a_dip_inside_the_speech_is_not_an_end_however_finished_it_sounds() -> None:
    # "…how long the delivery takes | to the city centre": the VAD hears 170 ms of silence
    # between two words (Silero does, in espeak's "s t"), and its answers trail the audio by
    # 40 ms. Asked 150 ms in, the model answers at once that it sounds finished, and so do
    # the words; but the VAD has heard only 130 ms of that silence, and before it has heard
    # 200 ms it tells that the caller went on. One turn.
    line, _ = semantic_line(
        [0.97, 0.97],
        said="how long does the delivery take",
        partial="How long does the delivery take?",
        punctuated=True,
        delay_ms=20,
    )
    line.detector = LateVad(0.04)
    await talk(line, 6.0, [(0.5, 2.0), (2.17, 3.0)])

    assert user_turns(line) == ["how long does the delivery take"]
    [started] = line.at(AgentStartedSpeaking)
    assert started > 3.0


async def test_a_verdict_waiting_for_quiet_ends_by_the_silence_rule_if_audio_stops() -> None:
    # the client stops streaming 100 ms after speech (the VAD has heard too little silence
    # for the verdict to end the turn): the silence rule ends it, not the longest wait
    line, _ = semantic_line(
        [0.97], said="what time is it", partial="What time is it?", punctuated=True
    )
    await line.start()
    await line.audio(until_s=2.1, speech=[(0.5, 2.0)])
    await line.until(4.0)
    line.send(Stop())
    await line.finish()

    assert user_turns(line) == ["what time is it"]
    [end] = ends_of_turns(line)
    assert end.silence_ms == pytest.approx(350, abs=25)  # endpoint_ms, not 2,000


async def test_a_caller_who_pauses_mid_sentence_is_not_answered_in_the_pause() -> None:
    # "I'd like to order…" (0.5–1.5 s), 0.8 s of thought, "…a large pepperoni" (2.3–3.2 s)
    line, model = semantic_line([0.1, 0.9], said="i'd like to order a pizza")
    await talk(line, 6.0, [(0.5, 1.5), (2.3, 3.2)])

    assert user_turns(line) == ["i'd like to order a pizza"]  # one turn, after the second part
    # asked at 1.65 s (unfinished); not again in the pause (the next question would have
    # been at 1.5 s of silence); asked at 3.35 s (finished)
    assert len(model.asked) == 2
    [end] = ends_of_turns(line)
    assert end.decided_by == "model" and end.checks == 2
    assert end.silence_ms == pytest.approx(200, abs=1)  # of the last silence
    [started] = line.at(AgentStartedSpeaking)
    assert started > 3.2


async def test_silence_alone_would_have_answered_that_pause() -> None:
    line = Timeline(vad=VadSettings(turn_detection="silence"))
    await talk(line, 6.0, [(0.5, 1.5), (2.5, 3.2)])

    assert len(user_turns(line)) == 2  # cut in at 1.85 s, then a second turn
    assert ends_of_turns(line)[0].mode == "silence"


async def test_the_turn_ends_at_the_longest_wait_if_the_model_never_says_finished() -> None:
    line, _ = semantic_line([0.2], vad=SEMANTIC.model_copy(update={"max_endpoint_ms": 2100}))
    await talk(line, 5.0, [(0.5, 2.0)])

    [end] = ends_of_turns(line)
    assert end.decided_by == "max_wait" and end.score == pytest.approx(0.2)
    assert end.silence_ms == pytest.approx(2100, abs=1)
    assert end.checks == 2  # at 150 and 1500 ms; the next (2250) is past the longest wait


@pytest.mark.parametrize(
    ("answers", "delay_ms", "silence_ms"),
    [
        # fails at 200 ms: the rule's 350 ms
        ([ProviderError("smart-turn", "model down")], 50, 350),
        ([0.99], 1000, 550),  # no answer by 150 + 400 ms: past the rule's 350 ms, at once
    ],
    ids=["failed", "too-slow"],
)
async def test_without_an_answer_the_silence_rule_decides(
    answers: list[float | Exception], delay_ms: float, silence_ms: float
) -> None:
    line, _ = semantic_line(answers, delay_ms=delay_ms)
    await talk(line, 5.0, [(0.5, 2.0)])

    [end] = ends_of_turns(line)
    assert end.decided_by == "fallback" and end.score is None
    assert end.silence_ms == pytest.approx(silence_ms, abs=1)
    assert user_turns(line) == ["what time is it"]


async def test_an_answer_about_a_silence_that_is_over_is_dropped() -> None:
    # Asked at 1.65 s; the caller speaks again at 1.66 s (heard at 1.68 s), before the
    # (finished!) answer arrives at 1.70 s: that answer is stale and the turn goes on.
    line, _ = semantic_line([0.95, 0.95])
    await talk(line, 5.0, [(0.5, 1.5), (1.66, 2.5)])

    assert user_turns(line) == ["what time is it"]
    [end] = ends_of_turns(line)
    assert end.checks == 2 and end.silence_ms == pytest.approx(200, abs=1)
    [started] = line.at(AgentStartedSpeaking)
    assert started > 2.5


async def test_without_a_model_semantic_is_the_silence_rule() -> None:
    line = Timeline(vad=SEMANTIC)
    await talk(line, 5.0, [(0.5, 2.0)])

    [end] = ends_of_turns(line)
    assert end.mode == "silence" and end.silence_ms == pytest.approx(350, abs=1)


async def test_words_that_leave_the_sentence_open_overrule_a_finished_score() -> None:
    vad = SEMANTIC.model_copy(update={"max_endpoint_ms": 1700})
    line, model = semantic_line([0.9], vad=vad, partial="I'd like to order, and")
    await talk(line, 5.0, [(0.5, 2.0)])

    [end] = ends_of_turns(line)
    assert end.decided_by == "max_wait" and end.score == pytest.approx(0.9)
    assert end.silence_ms == pytest.approx(1700, abs=1)
    assert len(model.asked) == 2  # at 150 ms, and again past a thinking pause


async def test_a_finished_sentence_is_not_held_back_by_its_words() -> None:
    line, _ = semantic_line([0.9], partial="I'd like to order a pizza.")
    await talk(line, 5.0, [(0.5, 2.0)])

    [end] = ends_of_turns(line)
    assert end.decided_by == "model" and end.silence_ms == pytest.approx(200, abs=1)


async def test_a_finished_verdict_waits_a_little_for_words_that_do_not_come() -> None:
    # the plain fake recogniser says nothing until the turn is over
    line = Timeline(vad=SEMANTIC, turn_model=FakeTurnModel([0.9]))
    await talk(line, 5.0, [(0.5, 2.0)])

    [end] = ends_of_turns(line)
    assert end.decided_by == "model" and end.silence_ms == pytest.approx(400, abs=1)


class LateWords(PartialOnPause):
    """Its words come 220 ms after it was told of the silence: after the model's answer."""

    def pause(self) -> None:
        if self._utterance is not None:
            result = Transcription(self._utterance, self._partial, False)
            asyncio.get_running_loop().call_later(0.22, self._listener.on_transcription, result)


async def test_words_that_come_after_the_verdict_decide_it() -> None:
    # asked at 2.15 s, answered finished at 2.2 s; the silence was seen at 2.02 s, so the
    # words come at 2.24 s, inside the wait for them: they end the turn there
    line = Timeline(
        vad=SEMANTIC,
        turn_model=FakeTurnModel([0.9]),
        recognizer=lambda listener: LateWords(listener, "what time is it", "what time is it"),
    )
    await talk(line, 5.0, [(0.5, 2.0)])

    [end] = ends_of_turns(line)
    assert end.decided_by == "model"
    assert end.silence_ms == pytest.approx(240, abs=1)


async def test_a_punctuating_recogniser_without_a_full_stop_holds_a_finished_verdict() -> None:
    # Whisper heard "I would like to order" (no full stop: a sentence still going); the model
    # says finished at 150 ms, but the turn waits to be asked again past a thinking pause
    line, model = semantic_line([0.9, 0.9], partial="I would like to order", punctuated=True)
    await talk(line, 5.0, [(0.5, 2.0)])

    [end] = ends_of_turns(line)
    assert end.decided_by == "model" and end.checks == 2
    assert end.silence_ms == pytest.approx(1550, abs=1)  # asked at 1.5 s, answered 50 ms on
    assert len(model.asked) == 2


async def test_past_a_thinking_pause_a_finished_sentence_in_the_words_is_enough() -> None:
    # the model never says finished (it misjudges this voice); Whisper heard a full stop
    line, _ = semantic_line([0.1], partial="I would like a pizza.", punctuated=True)
    await talk(line, 5.0, [(0.5, 2.0)])

    [end] = ends_of_turns(line)
    assert end.decided_by == "words" and end.score == pytest.approx(0.1)
    assert end.silence_ms == pytest.approx(1550, abs=1)


async def test_a_full_stop_alone_does_not_end_the_turn_at_the_first_question() -> None:
    line, _ = semantic_line([0.1, 0.1], partial="I want to cancel.", punctuated=True)
    await talk(line, 5.0, [(0.5, 1.5), (2.3, 3.0)])  # "…my subscription", after 0.8 s

    assert len(user_turns(line)) == 1


async def test_each_silence_is_asked_about_afresh() -> None:
    # a first pause (unfinished), then the sentence's end: asked at 150 ms of the new
    # silence (unfinished by the sound) and at 1.5 s, where the words' full stop ends it
    line, _ = semantic_line([0.1, 0.1, 0.1], partial="I want to cancel it.", punctuated=True)
    await talk(line, 6.0, [(0.5, 1.5), (2.3, 3.0)])

    [end] = ends_of_turns(line)
    assert end.decided_by == "words" and end.checks == 3
    assert end.silence_ms == pytest.approx(1550, abs=1)


async def test_without_an_answer_words_that_go_on_keep_the_turn_open() -> None:
    vad = SEMANTIC.model_copy(update={"max_endpoint_ms": 2000})
    failing = [ProviderError("smart-turn", "busy")]
    line, model = semantic_line(failing, vad=vad, partial="I would like to", punctuated=True)
    await talk(line, 5.0, [(0.5, 2.0)])

    [end] = ends_of_turns(line)
    assert end.decided_by == "fallback" and len(model.asked) == 2  # at 150 ms and at 1.5 s
    assert end.silence_ms == pytest.approx(2000, abs=1)  # never the rule's 350 ms


async def test_a_late_answer_about_an_earlier_silence_is_not_taken_for_the_next_one() -> None:
    # Asked at 1.65 s; the caller speaks again at 1.66-1.9 s; the (finished!) answer about
    # the first silence comes at 1.98 s, in the second silence before its own question: it
    # is stale, and the second silence's own questions decide (unfinished, then finished).
    line, _ = semantic_line([0.95, 0.1, 0.95], delay_ms=330)
    await talk(line, 6.0, [(0.5, 1.5), (1.66, 1.9)])

    [end] = ends_of_turns(line)
    assert end.checks == 3 and end.decided_by == "model"
    assert end.silence_ms > 1500
