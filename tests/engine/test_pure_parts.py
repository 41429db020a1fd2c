"""The engine's I/O-free parts: chunker, ledger, pacer, turn detector, history."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.engine.chunker import MAX_CHARS, SentenceChunker
from parley.engine.history import History, Invocation, Said
from parley.engine.ledger import PlaybackLedger
from parley.engine.pacer import Pacer
from parley.engine.turns import SilenceStarted, SpeechResumed, SpeechStarted, TurnDetector
from parley.providers.base import ToolCall, WordMark

text_pieces = st.lists(st.text(alphabet="abc .,!?;:\n3Dr", max_size=30), max_size=25)


@given(text_pieces)
def test_chunks_concatenate_back_to_the_text_with_offsets(pieces: list[str]) -> None:
    chunker = SentenceChunker()
    sentences = [s for piece in pieces for s in chunker.push(piece)]
    tail = chunker.flush()
    if tail is not None:
        sentences.append(tail)

    text = "".join(pieces)
    assert "".join(s.text for s in sentences) == text
    offset = 0
    for sentence in sentences:
        assert sentence.start == offset and text[sentence.start : sentence.end] == sentence.text
        assert len(sentence.text) <= MAX_CHARS
        offset = sentence.end


def _cut(text: str, by: int = 3) -> list[str]:
    chunker = SentenceChunker()
    out = [s.text for i in range(0, len(text), by) for s in chunker.push(text[i : i + by])]
    tail = chunker.flush()
    return out + ([tail.text] if tail else [])


def test_sentences_end_at_punctuation_but_not_abbreviations_or_decimals() -> None:
    assert _cut("Hello there. How are you? Fine!") == ["Hello there. ", "How are you? ", "Fine!"]
    assert _cut("Dr. Smith paid 3.5 dollars. Done.") == ["Dr. Smith paid 3.5 dollars. ", "Done."]
    assert _cut("Call J. Doe now. Thanks.") == ["Call J. Doe now. ", "Thanks."]


def test_a_long_run_without_punctuation_is_cut_at_a_comma_or_space() -> None:
    long = ", ".join(["word"] * 80)
    pieces = _cut(long, by=7)
    assert len(pieces) > 1 and all(len(p) <= MAX_CHARS for p in pieces)
    assert pieces[0].endswith(", ")


def test_the_ledger_counts_words_whose_sound_started() -> None:
    text = "one two three. four five."
    ledger = PlaybackLedger(text)
    ledger.begin_segment(0, 15)
    ledger.add_audio(600, (WordMark(0, 3, 0), WordMark(4, 7, 200), WordMark(8, 13, 400)))
    ledger.begin_segment(15, 25)
    ledger.add_audio(400, (WordMark(0, 4, 0), WordMark(5, 10, 200)))

    assert text[: ledger.heard_until(0)] == ""
    assert text[: ledger.heard_until(1)] == "one"
    assert text[: ledger.heard_until(250)] == "one two"
    assert text[: ledger.heard_until(600)] == "one two three. "
    assert text[: ledger.heard_until(650)] == "one two three. four"
    assert text[: ledger.heard_until(5000)] == text


def test_without_word_marks_the_ledger_interpolates_to_word_ends() -> None:
    text = "alpha beta gamma delta"
    ledger = PlaybackLedger(text)
    ledger.begin_segment(0, len(text))
    ledger.add_audio(1000)

    assert text[: ledger.heard_until(300)] == "alpha beta"
    assert text[: ledger.heard_until(1000)] == text


def test_the_pacer_keeps_a_fixed_lead_over_playback() -> None:
    pacer = Pacer(frame_ms=20, lead_ms=200)
    pacer.push([b"f"] * 100, now=10.0)

    assert len(pacer.due(10.0)) == 10  # 200 ms ahead
    assert pacer.due(10.0) == []
    assert pacer.next_due() == pytest.approx(10.02)
    assert len(pacer.due(10.02)) == 1
    assert len(pacer.due(10.5)) == 24
    assert pacer.played_ms(10.5) == pytest.approx(500)
    assert pacer.finished_at() == pytest.approx(10.0 + pacer.sent_ms / 1000)


def test_the_pacer_resumes_from_playback_after_running_dry() -> None:
    pacer = Pacer(frame_ms=20, lead_ms=100)
    pacer.push([b"f"] * 5, now=0.0)
    assert len(pacer.due(0.0)) == 5
    pacer.push([b"g"] * 5, now=1.0)  # long after the first 100 ms played out

    assert len(pacer.due(1.0)) == 5
    assert pacer.played_ms(1.0) == pytest.approx(100)


def test_a_rewind_takes_back_what_the_client_had_not_played_by_its_own_report() -> None:
    pacer = Pacer(frame_ms=20, lead_ms=200)
    pacer.push([bytes([i]) for i in range(100)], now=0.0)
    pacer.due(1.0)  # 1,200 ms sent, 1,000 ms played by the pacer's estimate
    # the client reports only 700 ms played (its network is 300 ms behind): the 500 ms it
    # dropped come back, in order, from frame 35
    assert pacer.rewind(played_ms=700) == pytest.approx(500)
    assert pacer.sent_ms == pytest.approx(700)
    pacer.restart(1.0)
    assert pacer.due(1.0)[0] == bytes([35])


def test_a_rewind_reaches_back_over_a_long_client_buffer() -> None:
    pacer = Pacer(frame_ms=20, lead_ms=2000)  # an Ultravox client buffer of 2 s
    pacer.push([bytes([i]) for i in range(200)], now=0.0)
    pacer.due(0.5)  # 2,500 ms sent, 500 ms played
    assert pacer.rewind(pacer.played_ms(0.5)) == pytest.approx(2000)
    pacer.restart(0.5)
    assert pacer.due(0.5)[0] == bytes([25])


@given(st.lists(st.integers(1, 30), min_size=1, max_size=30))
def test_pacing_never_runs_ahead_of_playback_by_more_than_the_lead(gaps: list[int]) -> None:
    pacer = Pacer(frame_ms=20, lead_ms=200)
    pacer.push([b"f"] * 300, now=0.0)
    now = 0.0
    for gap in gaps:
        now += gap / 100
        pacer.due(now)
        assert pacer.sent_ms <= now * 1000 + 200 + 1e-6
        due = pacer.next_due()
        if due is not None:
            assert due > now - 1e-9


def _feed(detector: TurnDetector, probabilities: list[float], frame_s: float = 0.032) -> list:
    signals = []
    for index, p in enumerate(probabilities):
        signal = detector.frame(p, (index + 1) * frame_s)
        if signal is not None:
            signals.append(signal)
    return signals


def test_onset_is_dated_to_when_speech_began_once_it_lasted_start_ms() -> None:
    detector = TurnDetector(threshold=0.5, start_ms=96, frame_ms=32)

    signals = _feed(detector, [0.1, 0.9, 0.4, 0.8, 0.9, 0.2])

    # speech from frame 1 (starts at 32 ms); 0.4 is above the lower threshold (0.35)
    assert signals[0] == SpeechStarted(pytest.approx(0.032))
    assert isinstance(signals[1], SilenceStarted)


def test_a_dip_below_the_lower_threshold_cancels_an_onset() -> None:
    detector = TurnDetector(threshold=0.5, start_ms=96, frame_ms=32)

    assert _feed(detector, [0.9, 0.9, 0.1, 0.9, 0.9]) == []
    assert not detector.speaking


def test_speech_end_is_corrected_for_the_detector_lingering() -> None:
    plain = TurnDetector(threshold=0.5, start_ms=32, frame_ms=32)
    lingering = TurnDetector(threshold=0.5, start_ms=32, frame_ms=32, trailing_frames=1)
    probabilities = [0.9, 0.9, 0.9, 0.9, 0.1, 0.1]

    assert _feed(plain, probabilities)[1] == SilenceStarted(pytest.approx(0.128))
    assert _feed(lingering, probabilities)[1] == SilenceStarted(pytest.approx(0.096))


def test_speech_resuming_is_reported() -> None:
    detector = TurnDetector(threshold=0.5, start_ms=32, frame_ms=32)

    signals = _feed(detector, [0.9, 0.9, 0.1, 0.9])

    assert [type(s) for s in signals] == [SpeechStarted, SilenceStarted, SpeechResumed]


def test_history_keeps_tool_results_next_to_their_calls() -> None:
    call = ToolCall("c1", "lookup", {"q": 1})
    history = History()
    history.add(Said("user", "find it"))
    history.add(Said("agent", "Looking.", group=1))
    invocation = Invocation(call, group=1, client_side=True, status="requested")
    history.add(invocation)
    history.add(Said("user", "hurry"))

    pending = history.turns()
    invocation.result, invocation.status = "found", "completed"
    done = history.turns()

    assert [t.role for t in done] == ["user", "assistant", "tool", "user"]
    assert done[1].tool_calls == (call,) and done[1].text == "Looking."
    assert "no result yet" in pending[2].text and done[2].text == "found"
    assert history.transcript() == [
        {"role": "user", "text": "find it"},
        {"role": "agent", "text": "Looking."},
        {"role": "user", "text": "hurry"},
    ]


def test_the_first_clause_of_a_reply_goes_ahead_alone_later_ones_do_not() -> None:
    chunker = SentenceChunker()
    pieces = [*chunker.push("Sure, I can book that, for seven. Then, later")]
    assert [p.text for p in pieces] == ["Sure, ", "I can book that, for seven. "]
    assert chunker.flush() is not None
    assert SentenceChunker().push("I, uh") == []  # too short to be a clause
