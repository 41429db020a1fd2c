"""`parley bench-turns`: its rules on hand-made message logs, its speech's landmarks, and
one tiny run against a real server.

Like the other benchmarks' smoke tests this proves the harness runs end to end and that
what it measures is what it says (a finished sentence is one answered user turn, a real
barge-in stops the agent after it began); it asserts nothing about how fast Parley is.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from parley.bench import turns_corpus, turns_piper
from parley.bench.turns_espeak import RATE
from parley.bench.turns_line import FRAME_S, Heard, Said
from parley.bench.turns_measure import over_agent, spoken_turn
from parley.bench.wer import word_error_rate
from tests.support.cli import parley


def _clip(kind: str, resume_s: float | None = None) -> turns_corpus.Clip:
    samples = np.zeros(int(RATE * 3), np.int16)
    return turns_corpus.Clip(kind, "a b c d", "en-us", samples, 0.1, 2.5, resume_s, 0.8, 0.8)


def _said(clip: turns_corpus.Clip, start: float = 100.0) -> Said:
    frames = clip.samples.size // turns_corpus.FRAME
    return Said(clip, [start + k * FRAME_S for k in range(frames)])


def _user(at: float, turn: int, text: str, final: bool = True) -> Heard:
    return Heard(at, "transcript", {"role": "user", "text": text, "final": final, "turn": turn})


def _metrics(at: float, turn: int) -> Heard:
    return Heard(at, "metrics", {"turn": turn, "endpoint_ms": 350.0, "total_ms": 700.0})


def test_a_moment_is_when_a_live_microphone_made_it() -> None:
    said = _said(_clip("finished"))
    # a frame leaves once its last sample is captured: 0.5 s in is frame 25's first sample,
    # made 20 ms before that frame left
    assert said.moment(0.5) == pytest.approx(said.sent[25] - FRAME_S)
    assert said.moment(0.519) == pytest.approx(said.sent[25] - 0.001)


def test_a_finished_sentence_heard_as_one_turn_is_timed_from_its_end() -> None:
    said = _said(_clip("finished"))
    end = said.moment(2.5)
    log = [
        _user(end - 1.0, 1, "a b", final=False),
        _user(end + 0.4, 1, "a b c d"),
        _metrics(end + 0.7, 1),
        Heard(end + 0.7, "audio", {"bytes": 960}),
    ]

    row = spoken_turn(said, log)

    assert (row["user_turns"], row["heard"], row["endpoint_ms"]) == (1, ["a b c d"], 350.0)
    assert (row["final_ms"], row["first_audio_ms"]) == (400.0, 700.0)
    assert "cut_in" not in row


def test_a_paused_sentence_answered_in_its_pause_is_a_cut_in() -> None:
    said = _said(_clip("paused", resume_s=1.6))
    resume = said.moment(1.6)
    answered = [
        _user(resume - 0.3, 1, "a b"),
        _metrics(resume - 0.1, 1),
        Heard(resume - 0.1, "audio", {"bytes": 960}),
        Heard(resume + 0.2, "interrupted", {}),
        _user(resume + 1.5, 2, "c d"),
    ]
    waited = [_user(resume + 1.5, 1, "a b c d"), _metrics(resume + 1.8, 1)]

    cut = spoken_turn(said, answered)
    whole = spoken_turn(said, waited)

    assert cut["cut_in"] and cut["cut_in_why"] == [
        "two user turns",
        "answered before the second half",
        "second half over the agent",
    ]
    assert not whole["cut_in"] and whole["user_turns"] == 1


def test_a_sound_over_the_agent_stopped_it_resumed_it_or_did_nothing() -> None:
    said = _said(_clip("backchannel"))
    onset = said.moment(0.1)
    greeting = turns_corpus.GREETING

    def final(at: float, text: str) -> Heard:
        return Heard(at, "transcript", {"role": "agent", "text": text, "final": True, "turn": 0})

    stopped = over_agent(said, [Heard(onset + 0.2, "interrupted", {})], greeting)
    cut = over_agent(said, [final(onset + 1, "Thank you for calling Riverside Pizza.")], greeting)
    resumed = over_agent(
        said,
        [Heard(onset + 0.2, "paused", {}), Heard(onset + 0.9, "resumed", {}), final(9, greeting)],
        greeting,
    )
    untouched = over_agent(said, [final(onset + 8, greeting)], greeting)
    early = over_agent(said, [Heard(onset - 0.5, "interrupted", {})], greeting)

    assert (stopped["outcome"], stopped["stop_ms"]) == ("stopped", 200.0)
    assert cut["outcome"] == "stopped" and cut["stop_ms"] is None
    assert (resumed["outcome"], resumed["stop_ms"], resumed["interrupted_ms"]) == (
        "resumed",
        200.0,
        None,
    )
    assert untouched["outcome"] == "unaffected"
    assert early["early"] and early["stop_ms"] is None


@pytest.mark.parametrize("voice", turns_corpus.VOICES)
def test_a_paused_sentence_holds_its_pause_inside_one_utterance(voice: str) -> None:
    [(finished, paused)] = asyncio.run(turns_corpus.pause_pairs(1, voice, ("main",)))

    assert (finished.set_name, paused.set_name) == ("main", "main")
    assert (finished.voice == "piper") == (paused.voice == "piper") == (voice == "piper")
    assert paused.resume_s is not None and paused.gap_s is not None
    assert paused.onset_s < paused.resume_s - paused.gap_s < paused.resume_s < paused.end_s
    assert abs(paused.gap_s - 0.6) < 0.1  # the break asked for, give or take a consonant
    assert abs((paused.end_s - paused.onset_s) - (finished.end_s - finished.onset_s)) < 1.2
    assert paused.samples.size % turns_corpus.FRAME == 0


def test_the_sentences_are_shared_out_over_the_sets_chosen() -> None:
    assert [(name, i) for name, i, *_ in turns_corpus.chosen(3, ("main", "heldout"))] == [
        ("main", 0),
        ("main", 1),
        ("heldout", 0),
    ]
    everything = turns_corpus.chosen(None, ("main", "heldout"))
    assert len(everything) == len(turns_corpus.PAUSED) + len(turns_corpus.HELDOUT) == 40
    assert [p for _, _, *p in turns_corpus.chosen(None, ("heldout",))] == [
        list(pair) for pair in turns_corpus.HELDOUT
    ]
    # the held-out and fresh sets share no sentence, and no first half, with any other
    firsts = [{f for f, _ in s} for s in turns_corpus.SETS.values()]
    assert sum(map(len, firsts)) == len(set().union(*firsts)) == 56


def test_a_cut_puts_silence_at_the_cut_and_trims_only_the_quiet_before_it() -> None:
    tone = (4000 * np.sin(np.arange(1000) / 5)).astype(np.int16)
    tone[-1] = 4000  # the first part's last sound
    whole = np.concatenate([tone, np.full(100, 100, np.int16), tone[::-1]])

    said = turns_corpus.cut_in_two(whole, 1050, 0.6)

    gap = round(0.6 * RATE)
    assert np.array_equal(said.whole, whole)  # the finished sentence: untouched
    assert np.array_equal(said.paused[:1000], whole[:1000])  # quiet trimmed, sound kept
    assert not said.paused[1000 : 1000 + gap].any()
    assert np.array_equal(said.paused[1000 + gap :], whole[1050:])  # from the cut on
    assert said.stop_s == pytest.approx(1000 / RATE)
    assert said.resume_s == pytest.approx((1000 + gap + 50) / RATE)  # its first sound


def test_a_piper_sentence_is_cut_just_before_its_second_half_begins() -> None:
    first, second = turns_corpus.PAUSED[0]  # "i'd like to order | a large pepperoni pizza"
    [(whole, starts)] = asyncio.run(turns_piper.speak([f"{first} {second}."]))
    last_word, next_word = starts[first.rfind(" ") + 1], starts[len(first) + 1]

    cut = turns_piper.cut_before(whole, next_word)
    said = turns_corpus.cut_in_two(whole, cut, 0.8)

    # Piper's mark, less the smear of its decoder: inside the first half's last word's span
    assert cut == round((next_word - turns_piper.EARLY_S) * RATE)
    assert last_word < cut / RATE < next_word
    # the first half ends on a sound; all that went is quiet; then the silence, then the rest
    head = round(said.stop_s * RATE)
    assert abs(int(said.paused[head - 1])) > turns_corpus.LOUD
    assert np.abs(whole[head:cut].astype(np.int32)).max(initial=0) <= turns_corpus.LOUD
    assert np.array_equal(said.paused[:head], whole[:head])
    assert np.array_equal(said.paused[head + round(0.8 * RATE) :], whole[cut:])
    assert 0.8 <= said.resume_s - said.stop_s < 0.9


def test_a_tiny_run_measures_every_part_it_can(cli_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "turns.json"
    parley(cli_env, "bench-turns", "--utterances", "3", "--json", str(out), timeout=900)

    result = json.loads(out.read_text())
    ran = set(result["agents"])
    assert {"silence", "immediate"} <= ran  # today's behaviour always runs
    assert ran | set(result["unsupported"]) == {"silence", "semantic", "immediate", "confirm"}
    assert (result["voice"], result["sets"]) == ("piper", ["main", "heldout", "fresh"])
    assert [(r["mode"], r["set"]) for r in result["pauses"]] == [
        (m, s) for m in ("silence", "semantic") if m in ran for s in ("main", "heldout", "fresh")
    ]
    for row in result["pauses"]:  # --utterances 3: one sentence of each set
        assert (row["finished"], row["paused"]) == (1, 1)
        assert all(t["set"] == row["set"] and t["voice"] == "piper" for t in row["trials"])
        assert row["finished_unanswered"] == 0 and row["finished_split"] == 0, row
        finished = [t for t in row["trials"] if t["kind"] == "finished"]
        for trial in finished:  # heard as one user turn, its words understood, answered
            assert trial["user_turns"] == 1 and trial["endpoint_ms"] is not None
            assert word_error_rate(trial["text"], " ".join(trial["heard"])) <= 0.5, trial
            assert trial["first_audio_ms"] > 0 and trial["final_ms"] > 0
        assert 0 <= row["cut_in_percent"] <= 100
    for row in result["cpu"]:
        assert row["turns"] >= 4 and row["server_ms_per_turn"] > 0
    for row in result["over_agent"]:
        assert row["backchannel"]["trials"] == 2 and row["noise"]["trials"] == 1
    for row in result["barge_ins"]:
        assert row["outcomes"]["trials"] == 3 and row["outcomes"]["stopped"] == 3, row
        assert all(t["stop_ms"] > 0 and not t["early"] for t in row["trials"])
