"""Semantic end of turn on a scripted timeline: the end-of-turn model, asked when the caller
falls silent, ends a finished turn early and lets a caller pause mid-sentence.

The model here is scripted (`FakeTurnModel`: each question's probability in order, 50 ms to
answer); the real one is tested in tests/providers/test_smart_turn.py.
"""

from __future__ import annotations

import pytest

from parley.engine.agent import VadSettings
from parley.engine.events import AgentStartedSpeaking, Stop, Transcript
from parley.engine.measures import EndOfTurn
from parley.providers.base import ProviderError, RecognitionListener, Transcription
from parley.providers.fakes import FakeRecognizer, FakeTurnModel
from tests.engine.timeline import Timeline

pytestmark = pytest.mark.looptime

SEMANTIC = VadSettings(turn_detection="semantic", max_endpoint_ms=2000)


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
    model = FakeTurnModel([0.92])
    line = Timeline(vad=SEMANTIC, turn_model=model)
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


async def test_a_caller_who_pauses_mid_sentence_is_not_answered_in_the_pause() -> None:
    # "I'd like to order…" (0.5–1.5 s), a second's thought, "…a large pepperoni" (2.5–3.2 s)
    model = FakeTurnModel([0.1, 0.15, 0.9])
    line = Timeline(vad=SEMANTIC, turn_model=model, stt_texts=["i'd like to order a pizza"])
    await talk(line, 6.0, [(0.5, 1.5), (2.5, 3.2)])

    assert user_turns(line) == ["i'd like to order a pizza"]  # one turn, after the second part
    assert len(model.asked) == 3  # at 1.65 and 2.15 s (unfinished), at 3.35 s (finished)
    [end] = ends_of_turns(line)
    assert end.decided_by == "model" and end.checks == 3
    assert end.silence_ms == pytest.approx(200, abs=1)  # of the last silence
    [started] = line.at(AgentStartedSpeaking)
    assert started > 3.2


async def test_silence_alone_would_have_answered_that_pause() -> None:
    line = Timeline(vad=VadSettings(turn_detection="silence"))
    await talk(line, 6.0, [(0.5, 1.5), (2.5, 3.2)])

    assert len(user_turns(line)) == 2  # cut in at 1.85 s, then a second turn
    assert ends_of_turns(line)[0].mode == "silence"


async def test_the_turn_ends_at_the_longest_wait_if_the_model_never_says_finished() -> None:
    model = FakeTurnModel([0.2])
    line = Timeline(vad=SEMANTIC.model_copy(update={"max_endpoint_ms": 1000}), turn_model=model)
    await talk(line, 5.0, [(0.5, 2.0)])

    [end] = ends_of_turns(line)
    assert end.decided_by == "max_wait" and end.score == pytest.approx(0.2)
    assert end.silence_ms == pytest.approx(1000, abs=1)
    assert end.checks == 2  # at 150 and 650 ms; the next (1150) is past the longest wait


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
    line = Timeline(vad=SEMANTIC, turn_model=FakeTurnModel(answers, delay_ms=delay_ms))
    await talk(line, 5.0, [(0.5, 2.0)])

    [end] = ends_of_turns(line)
    assert end.decided_by == "fallback" and end.score is None
    assert end.silence_ms == pytest.approx(silence_ms, abs=1)
    assert user_turns(line) == ["what time is it"]


async def test_an_answer_about_a_silence_that_is_over_is_dropped() -> None:
    # Asked at 1.65 s; the caller speaks again at 1.66 s (heard at 1.68 s), before the
    # (finished!) answer arrives at 1.70 s: that answer is stale and the turn goes on.
    model = FakeTurnModel([0.95, 0.95])
    line = Timeline(vad=SEMANTIC, turn_model=model)
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


class PartialOnPause(FakeRecognizer):
    """A recogniser that, like Whisper's speculative decode, has a transcript of the
    utterance so far shortly after the caller falls silent."""

    def __init__(self, listener: RecognitionListener, partial: str) -> None:
        super().__init__(listener, delay_ms=150, texts=["i'd like to order and"])
        self._partial = partial

    def pause(self) -> None:
        if self._utterance is not None:
            self._listener.on_transcription(Transcription(self._utterance, self._partial, False))


async def test_words_that_leave_the_sentence_open_overrule_a_finished_score() -> None:
    line = Timeline(
        vad=SEMANTIC.model_copy(update={"max_endpoint_ms": 1200}),
        turn_model=FakeTurnModel([0.9]),
        recognizer=lambda listener: PartialOnPause(listener, "I'd like to order, and"),
    )
    await talk(line, 5.0, [(0.5, 2.0)])

    [end] = ends_of_turns(line)
    assert end.decided_by == "max_wait" and end.score == pytest.approx(0.9)
    assert end.silence_ms == pytest.approx(1200, abs=1)


async def test_a_finished_sentence_is_not_held_back_by_its_words() -> None:
    line = Timeline(
        vad=SEMANTIC,
        turn_model=FakeTurnModel([0.9]),
        recognizer=lambda listener: PartialOnPause(listener, "I'd like to order a pizza."),
    )
    await talk(line, 5.0, [(0.5, 2.0)])

    [end] = ends_of_turns(line)
    assert end.decided_by == "model" and end.silence_ms == pytest.approx(200, abs=1)
