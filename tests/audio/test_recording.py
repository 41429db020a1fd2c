"""Call recording: each party on its own channel, where the caller heard it, cuts visible."""

from __future__ import annotations

import tempfile
import wave
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.audio.convert import encode
from parley.audio.formats import AudioFormat
from parley.audio.pcm import Int16Array
from parley.audio.recording import CallRecorder
from parley.audio.wav import read_wav

RATE = 16000
START = 1000.0  # the loop time the call began; the WAV's zero
TOLERANCE = 0.02
CALLER_HZ, AGENT_HZ, SECOND_REPLY_HZ = 500.0, 1300.0, 900.0
PCM48 = AudioFormat("linear16", 48000)
ULAW8 = AudioFormat("mulaw", 8000)
PCM16 = AudioFormat("linear16", 16000)


def signal(fmt: AudioFormat, seconds: float, tones: list[tuple[float, float, float]]) -> bytes:
    """`seconds` of audio in `fmt`: silence, with (hz, from, to) sine tones in it."""
    t = np.arange(round(seconds * fmt.sample_rate)) / fmt.sample_rate
    wave_ = np.zeros_like(t)
    for hz, begin, end in tones:
        wave_ += np.where((t >= begin) & (t < end), 0.3 * np.sin(2 * np.pi * hz * t), 0.0)
    return encode((wave_ * 32767).astype(np.int16), fmt.encoding)


def frames(data: bytes, fmt: AudioFormat, ms: float = 20) -> list[bytes]:
    size = fmt.bytes_for_ms(ms)
    return [data[i : i + size] for i in range(0, len(data), size)]


def read_stereo(path: Path) -> tuple[Int16Array, Int16Array, int]:
    with wave.open(str(path), "rb") as source:
        assert source.getnchannels() == 2
        assert source.getsampwidth() == 2
        data = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
        rate = source.getframerate()
    stereo = data.reshape(-1, 2).astype(np.int16)
    return stereo[:, 0], stereo[:, 1], rate


def active_span(channel: Int16Array, rate: int) -> tuple[float, float]:
    """First and last moment (seconds) a 10 ms window of `channel` carries sound."""
    window = rate // 100
    usable = channel[: channel.size - channel.size % window].astype(np.float64)
    loud = np.flatnonzero(np.sqrt((usable.reshape(-1, window) ** 2).mean(axis=1)) > 1000)
    assert loud.size, "the channel is silent"
    return loud[0] * window / rate, (loud[-1] + 1) * window / rate


def dominant_hz(channel: Int16Array, rate: int, begin: float, end: float) -> float:
    part = channel[round(begin * rate) : round(end * rate)].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(part * np.hanning(part.size)))
    return float(np.fft.rfftfreq(part.size, 1 / rate)[int(np.argmax(spectrum))])


def is_quiet(channel: Int16Array, rate: int, begin: float, end: float) -> bool:
    return bool(np.abs(channel[round(begin * rate) : round(end * rate)]).max(initial=0) < 300)


@pytest.mark.parametrize(("caller_format", "agent_format"), [(PCM48, ULAW8), (ULAW8, PCM48)])
def test_caller_is_left_and_agent_right_each_where_it_was_heard(
    tmp_path: Path, caller_format: AudioFormat, agent_format: AudioFormat
) -> None:
    recorder = CallRecorder(tmp_path / "call.wav", caller_format, agent_format, start=START)
    # The caller streams in real time for 3.2 s, speaking from 0.5 to 1.5 s; each 20 ms frame
    # arrives when its last sample was spoken. The agent replies at 2.0 s with 1 s of speech,
    # frames sent 100 ms ahead of playback.
    speech = frames(signal(caller_format, 3.2, [(CALLER_HZ, 0.5, 1.5)]), caller_format)
    reply = frames(signal(agent_format, 1.0, [(AGENT_HZ, 0.0, 1.0)]), agent_format)
    events = [(START + 0.02 * (k + 1), "caller", chunk) for k, chunk in enumerate(speech)]
    events += [(START + 2.0 + max(0.0, 0.02 * k - 0.1), "agent", c) for k, c in enumerate(reply)]
    for now, who, chunk in sorted(events, key=lambda event: event[0]):
        (recorder.caller if who == "caller" else recorder.agent)(chunk, now)

    left, right, rate = read_stereo(recorder.finish())

    assert rate == RATE
    assert left.size / rate == pytest.approx(3.2, abs=TOLERANCE)
    assert active_span(left, rate) == pytest.approx((0.5, 1.5), abs=TOLERANCE)
    assert active_span(right, rate) == pytest.approx((2.0, 3.0), abs=TOLERANCE)
    assert dominant_hz(left, rate, 0.6, 1.4) == pytest.approx(CALLER_HZ, abs=15)
    assert dominant_hz(right, rate, 2.1, 2.9) == pytest.approx(AGENT_HZ, abs=15)
    assert is_quiet(left, rate, 1.6, 3.2)
    assert is_quiet(right, rate, 0.0, 1.95)


def test_a_caller_streaming_faster_than_real_time_stays_contiguous(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    audio = rng.integers(-20000, 20000, 2 * RATE, dtype=np.int16)
    recorder = CallRecorder(tmp_path / "call.wav", PCM16, PCM16, start=START)
    for chunk in frames(audio.astype("<i2").tobytes(), PCM16):  # 2 s, all at 0.5 s
        recorder.caller(chunk, START + 0.5)

    left, right, _ = read_stereo(recorder.finish())

    offset = round(0.48 * RATE)  # the first frame ended as it arrived
    assert not left[:offset].any()
    assert np.array_equal(left[offset:], audio)
    assert not right.any()


def test_a_cut_erases_unheard_agent_audio_and_the_next_reply_starts_at_its_send_time(
    tmp_path: Path,
) -> None:
    recorder = CallRecorder(tmp_path / "call.wav", PCM48, ULAW8, start=START)
    first = signal(ULAW8, 3.0, [(AGENT_HZ, 0.0, 3.0)])
    for chunk in frames(first, ULAW8, ms=200):  # 3 s, faster than real time, from 1.0 s
        recorder.agent(chunk, START + 1.0)
    assert recorder.seconds == pytest.approx(4.0, abs=TOLERANCE)

    recorder.cut(START + 2.0)  # barge-in: what would have played after 2.0 s never did
    assert recorder.seconds == pytest.approx(2.0, abs=TOLERANCE)
    recorder.cut(START + 2.2)  # a later cut past the end erases nothing and moves nothing
    assert recorder.seconds == pytest.approx(2.0, abs=TOLERANCE)
    second = signal(ULAW8, 0.5, [(SECOND_REPLY_HZ, 0.0, 0.5)])
    for k, chunk in enumerate(frames(second, ULAW8)):
        recorder.agent(chunk, START + 2.5 + 0.02 * k)

    _, right, rate = read_stereo(recorder.finish())

    assert right.size / rate == pytest.approx(3.0, abs=TOLERANCE)
    assert dominant_hz(right, rate, 1.1, 1.9) == pytest.approx(AGENT_HZ, abs=15)
    assert is_quiet(right, rate, 2.0 + TOLERANCE, 2.5 - TOLERANCE)
    assert active_span(right[round(2.0 * rate) :], rate)[0] == pytest.approx(0.5, abs=TOLERANCE)
    assert dominant_hz(right, rate, 2.55, 2.95) == pytest.approx(SECOND_REPLY_HZ, abs=15)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 800), st.integers(0, 100)), min_size=1, max_size=25))
def test_caller_chunks_land_at_arrival_minus_duration_never_overlapping(
    chunks: list[tuple[int, int]],
) -> None:
    """Each chunk k of n samples arriving `gap` ms after the one before is placed at
    max(previous end, arrival - duration): the rule, checked sample for sample."""
    expected = np.zeros(0, dtype=np.int16)
    with tempfile.TemporaryDirectory() as directory:
        recorder = CallRecorder(Path(directory) / "call.wav", PCM16, PCM16, start=START)
        now = START
        for index, (size, gap) in enumerate(chunks):
            now += gap / 1000
            samples = np.full(size, index + 1, dtype=np.int16)
            recorder.caller(samples.astype("<i2").tobytes(), now)
            at = max(expected.size, round((now - size / RATE - START) * RATE), 0)
            expected = np.concatenate((expected, np.zeros(at - expected.size, np.int16), samples))
        assert recorder.seconds == expected.size / RATE
        left, right, _ = read_stereo(recorder.finish())

    assert np.array_equal(left, expected)
    assert not right.any()
    everything = np.concatenate([np.full(n, i + 1, np.int16) for i, (n, _) in enumerate(chunks)])
    assert np.array_equal(left[left != 0], everything)  # nothing lost, nothing overwritten


agent_steps = st.one_of(
    st.tuples(st.just("send"), st.integers(1, 800), st.integers(0, 100)),
    st.tuples(st.just("cut"), st.just(0), st.integers(0, 100)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(agent_steps, min_size=1, max_size=25))
def test_agent_chunks_follow_from_send_time_and_cuts_erase_what_followed(
    steps: list[tuple[str, int, int]],
) -> None:
    expected = np.zeros(0, dtype=np.int16)
    with tempfile.TemporaryDirectory() as directory:
        recorder = CallRecorder(Path(directory) / "call.wav", PCM16, PCM16, start=START)
        now = START
        for index, (kind, size, gap) in enumerate(steps):
            now += gap / 1000
            here = round((now - START) * RATE)
            if kind == "cut":
                recorder.cut(now)
                expected = expected[:here]
                continue
            samples = np.full(size, index + 1, dtype=np.int16)
            recorder.agent(samples.astype("<i2").tobytes(), now)
            at = max(expected.size, here)
            expected = np.concatenate((expected, np.zeros(at - expected.size, np.int16), samples))
        assert recorder.seconds == expected.size / RATE
        left, right, _ = read_stereo(recorder.finish())

    assert np.array_equal(right, expected)
    assert not left.any()


def test_finish_is_idempotent_removes_its_temporary_files_and_makes_directories(
    tmp_path: Path,
) -> None:
    path = tmp_path / "calls" / "2024" / "call.wav"
    recorder = CallRecorder(path, PCM48, ULAW8, start=START)
    recorder.caller(signal(PCM48, 0.2, [(CALLER_HZ, 0.0, 0.2)]), START + 0.2)
    recorder.agent(signal(ULAW8, 0.2, [(AGENT_HZ, 0.0, 0.2)]), START + 0.3)
    assert sorted(p.name for p in path.parent.iterdir()) == ["call.agent.part", "call.caller.part"]

    assert recorder.finish() == path
    written = path.read_bytes()
    assert recorder.finish() == path
    assert path.read_bytes() == written
    assert [p.name for p in path.parent.iterdir()] == ["call.wav"]
    recorder.caller(signal(PCM48, 1.0, []), START + 2.0)  # after finish: ignored
    assert recorder.seconds == pytest.approx(0.5, abs=TOLERANCE)
    assert not list(path.parent.glob("*.part"))


def test_an_empty_recording_is_a_valid_stereo_wav(tmp_path: Path) -> None:
    recorder = CallRecorder(tmp_path / "call.wav", PCM48, ULAW8, start=START, rate=8000)
    recorder.cut(START + 1.0)
    assert recorder.seconds == 0.0

    path = recorder.finish()

    with wave.open(str(path), "rb") as source:
        assert (source.getnchannels(), source.getframerate(), source.getnframes()) == (2, 8000, 0)
    samples, rate = read_wav(path)
    assert samples.size == 0 and rate == 8000
    assert [p.name for p in tmp_path.iterdir()] == ["call.wav"]


def test_discard_removes_everything_before_or_after_finish(tmp_path: Path) -> None:
    before = CallRecorder(tmp_path / "a.wav", PCM48, ULAW8, start=START)
    before.caller(signal(PCM48, 0.1, []), START + 0.1)
    before.agent(signal(ULAW8, 0.1, []), START + 0.1)
    before.discard()
    after = CallRecorder(tmp_path / "b.wav", PCM48, ULAW8, start=START)
    after.agent(signal(ULAW8, 0.1, []), START + 0.1)
    after.finish()
    after.discard()

    assert not list(tmp_path.iterdir())
    with pytest.raises(RuntimeError):
        before.finish()


def test_a_write_error_does_not_reach_the_call_but_finish_raises_it(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file where the directory should be")
    recorder = CallRecorder(tmp_path / "taken" / "call.wav", PCM48, ULAW8, start=START)
    recorder.caller(signal(PCM48, 0.1, []), START + 0.1)  # cannot create its file: no raise
    recorder.agent(signal(ULAW8, 0.1, []), START + 0.1)

    with pytest.raises(OSError):
        recorder.finish()
    with pytest.raises(OSError):
        recorder.finish()
