"""Framing, format conversion, resampling and WAV: the invariants the engine relies on."""

from __future__ import annotations

import io
import struct
import wave

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from parley.audio.convert import InputConverter, OutputConverter, decode, encode
from parley.audio.formats import PCM_RATES, AudioFormat
from parley.audio.pcm import ByteFramer, Framer
from parley.audio.resample import Resampler
from parley.audio.wav import read_wav, stream_header, write_wav

chunks_of_samples = st.lists(arrays(np.int16, st.integers(0, 700)), max_size=12)


@given(chunks_of_samples, st.sampled_from([160, 320, 512]))
def test_framer_cuts_any_chunking_into_exact_frames_losing_nothing(
    chunks: list[np.ndarray], size: int
) -> None:
    framer = Framer(size)
    frames = [frame for chunk in chunks for frame in framer.push(chunk)]
    pending = framer.pending
    tail = framer.flush()

    assert all(frame.size == size for frame in frames)
    everything = np.concatenate([np.zeros(0, np.int16), *chunks])
    produced = np.concatenate([np.zeros(0, np.int16), *frames])
    assert np.array_equal(produced, everything[: produced.size])
    assert produced.size + pending == everything.size
    if pending:
        assert tail is not None and np.array_equal(tail[:pending], everything[produced.size :])
        assert not tail[pending:].any()
    else:
        assert tail is None


@given(st.lists(st.binary(max_size=300), max_size=12), st.sampled_from([160, 640, 960]))
def test_byte_framer_cuts_any_stream_into_exact_frames(parts: list[bytes], size: int) -> None:
    framer = ByteFramer(size)
    frames = [frame for part in parts for frame in framer.push(part)]

    assert all(len(frame) == size for frame in frames)
    assert b"".join(frames) + framer.flush() == b"".join(parts)


@given(st.binary(max_size=2000), st.lists(st.integers(1, 300), max_size=10))
def test_linear16_input_survives_any_split_even_odd_byte_counts(
    data: bytes, cuts: list[int]
) -> None:
    converter = InputConverter(AudioFormat("linear16", 16000), 16000)
    pieces, offset = [], 0
    for cut in cuts:
        pieces.append(data[offset : offset + cut])
        offset += cut
    pieces.append(data[offset:])

    converted = np.concatenate([np.zeros(0, np.int16)] + [converter.convert(p) for p in pieces])

    whole = data[: len(data) - len(data) % 2]
    assert converted.tobytes() == whole


@given(arrays(np.int16, st.integers(0, 500)), st.sampled_from(["linear16", "mulaw", "alaw"]))
def test_encode_then_decode_is_identity_for_pcm_and_stable_for_g711(
    pcm: np.ndarray, encoding: str
) -> None:
    once = decode(encode(pcm, encoding), encoding)  # type: ignore[arg-type]
    twice = decode(encode(once, encoding), encoding)  # type: ignore[arg-type]

    if encoding == "linear16":
        assert np.array_equal(once, pcm)
    assert np.array_equal(twice, once)


def _tone(rate: int, hz: float, seconds: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * hz * t) * 10000).astype(np.int16)


def _peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize(
    ("src", "dst"),
    [(22050, 24000), (22050, 16000), (48000, 16000), (8000, 16000), (16000, 8000), (24000, 48000)],
)
@pytest.mark.parametrize("quality", ["QQ", "HQ"])
def test_resampling_keeps_pitch_and_duration_in_streaming_chunks(
    src: int, dst: int, quality: str
) -> None:
    tone = _tone(src, 440, 1.0)
    resampler = Resampler(src, dst, quality)  # type: ignore[arg-type]
    step = src // 50
    parts = [resampler.process(tone[i : i + step]) for i in range(0, tone.size, step)]
    out = np.concatenate([*parts, resampler.flush()])

    assert abs(out.size - dst) <= 2
    assert abs(_peak_hz(out, dst) - 440) < 3


def test_live_resampling_adds_no_delay() -> None:
    resampler = Resampler(8000, 16000, "QQ")

    first = resampler.process(_tone(8000, 300, 0.02))

    assert first.size >= 300, "a 20 ms chunk must come out at once, not be held back"


@pytest.mark.parametrize(
    "fmt",
    [AudioFormat("linear16", r) for r in PCM_RATES]
    + [AudioFormat(e, r) for e in ("mulaw", "alaw") for r in (8000, 16000)],
)
def test_output_conversion_gives_the_target_rate_and_encoding(fmt: AudioFormat) -> None:
    converter = OutputConverter(22050, fmt)

    out = converter.convert(_tone(22050, 440, 0.5)) + converter.flush()

    expected_bytes = fmt.bytes_for_ms(500)
    assert abs(len(out) - expected_bytes) <= 4 * fmt.bytes_per_sample
    restored = decode(out, fmt.encoding)
    assert abs(_peak_hz(restored, fmt.sample_rate) - 440) < 5


@given(
    st.lists(arrays(np.int16, st.integers(0, 300)), min_size=1, max_size=3),
    st.sampled_from([8000, 16000, 24000]),
)
def test_wav_round_trip(channels: list[np.ndarray], rate: int) -> None:
    buffer = io.BytesIO()
    write_wav(buffer, channels, rate)
    buffer.seek(0)

    samples, read_rate = read_wav(buffer)

    assert read_rate == rate
    length = max(c.size for c in channels)
    assert samples.size == length
    if len(channels) == 1:
        assert np.array_equal(samples, channels[0])


def test_streaming_wav_header_describes_the_format() -> None:
    header = stream_header(AudioFormat("mulaw", 8000))

    assert len(header) == 44 and header[:4] == b"RIFF" and header[8:16] == b"WAVEfmt "
    tag, channels, rate, byte_rate, align, bits = struct.unpack("<HHIIHH", header[20:36])
    assert (tag, channels, rate, byte_rate, align, bits) == (7, 1, 8000, 8000, 1, 8)
    assert header[36:40] == b"data"


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_a_wav_of_any_integer_width_reads_as_the_same_16_bit_samples(width: int) -> None:
    samples = np.array([0, 256, -256, 32512, -32768, 12800], dtype=np.int16)
    wide = samples.astype(np.int32) << (8 * width - 16) if width > 1 else samples >> 8
    if width == 1:
        raw = (wide + 128).astype(np.uint8).tobytes()
    elif width == 3:
        raw = b"".join(int(v).to_bytes(4, "little", signed=True)[:3] for v in wide)
    else:
        raw = wide.astype(f"<i{width}").tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(width)
        out.setframerate(8000)
        out.writeframes(raw)
    buffer.seek(0)
    read, rate = read_wav(buffer)
    assert rate == 8000
    assert read.tolist() == samples.tolist()


@pytest.mark.parametrize(
    ("content", "says"), [(b"ID3\x04not audio at all" * 4, "not a PCM WAV"), (b"RI", "not a WAV")]
)
def test_a_file_that_is_not_a_wav_says_so(content: bytes, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        read_wav(io.BytesIO(content))
