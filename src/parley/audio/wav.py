"""WAV files: whole-file writing and reading, and the header that starts a streamed WAV."""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import numpy as np

from parley.audio.formats import AudioFormat
from parley.audio.pcm import Int16Array

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
    """Mono 16-bit PCM samples and the rate (stereo is mixed down)."""
    with wave.open(str(path) if isinstance(path, Path) else path, "rb") as source:
        if source.getsampwidth() != 2:
            raise ValueError("only 16-bit PCM WAV files are supported")
        data = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
        channels = source.getnchannels()
        rate = source.getframerate()
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1)
    return data.astype(np.int16), rate
