"""WAV files: whole-file writing and reading, and the header that starts a streamed WAV."""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import numpy as np

from parley.audio.formats import AudioFormat
from parley.audio.pcm import Int16Array, to_samples

_FORMAT_TAGS = {"linear16": 1, "alaw": 6, "mulaw": 7}
STREAMING_SIZE = 0xFFFFFFFF


def stream_header(fmt: AudioFormat, channels: int = 1) -> bytes:
    """A 44-byte RIFF header with unknown length, for audio that follows as it is made."""
    width = fmt.bytes_per_sample
    return (
        b"RIFF"
        + struct.pack("<I", STREAMING_SIZE)
        + b"WAVE"
        + b"fmt "
        + struct.pack(
            "<IHHIIHH",
            16,
            _FORMAT_TAGS[fmt.encoding],
            channels,
            fmt.sample_rate,
            fmt.sample_rate * width * channels,
            width * channels,
            width * 8,
        )
        + b"data"
        + struct.pack("<I", STREAMING_SIZE)
    )


def write_wav(path: Path | io.BytesIO, channels: list[Int16Array], rate: int) -> None:
    """16-bit PCM WAV; several channels are padded to the longest and interleaved."""
    length = max((c.size for c in channels), default=0)
    frames = np.zeros((length, len(channels)), dtype=np.int16)
    for index, channel in enumerate(channels):
        frames[: channel.size, index] = channel
    with wave.open(str(path) if isinstance(path, Path) else path, "wb") as out:
        out.setnchannels(len(channels))
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames.astype("<i2").tobytes())


def read_wav(path: Path | io.BytesIO) -> tuple[Int16Array, int]:
    """Mono 16-bit samples and the rate, from integer PCM of 8, 16, 24 or 32 bits (wider
    samples keep their top 16 bits; stereo is mixed down). Anything else is a ValueError
    that says what the file is."""
    try:
        with wave.open(str(path) if isinstance(path, Path) else path, "rb") as source:
            width, channels = source.getsampwidth(), source.getnchannels()
            rate, raw = source.getframerate(), source.readframes(source.getnframes())
    except wave.Error as exc:  # not RIFF/WAVE, or a float or compressed WAV
        raise ValueError(f"not a PCM WAV file ({exc})") from None
    except EOFError:
        raise ValueError("not a WAV file (it ends before its header does)") from None
    data = _to_int16(raw, width)
    if channels > 1:
        data = data[: data.size - data.size % channels].reshape(-1, channels).mean(axis=1)
    return data.astype(np.int16), rate


def _to_int16(raw: bytes, width: int) -> Int16Array:
    if width == 1:  # 8-bit WAV is unsigned
        return ((np.frombuffer(raw, np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    if width == 2:
        return to_samples(raw)
    if width == 3:  # little-endian 24-bit: the top two bytes are the 16-bit sample
        triples = np.frombuffer(raw[: len(raw) - len(raw) % 3], np.uint8).reshape(-1, 3)
        return triples[:, 1:].copy().view("<i2").reshape(-1).astype(np.int16)
    if width == 4:
        return (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)
    raise ValueError(f"{width * 8}-bit samples are not supported (8, 16, 24 or 32-bit PCM)")
