"""Audio files of any common kind (WAV, FLAC, OGG/Vorbis, AIFF, …) as mono 16-bit PCM.

`wav.py` reads only integer PCM WAV, with the standard library, for the server's own
recordings. What a person hands the CLI or the SDK may be anything their recorder wrote, so
this reads through libsndfile (`soundfile`) and resamples with soxr to the rate wanted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile  # type: ignore[import-untyped]

from parley.audio.pcm import Int16Array
from parley.audio.resample import Resampler


def read_audio(path: Path) -> tuple[Int16Array, int]:
    """Mono 16-bit samples (channels mixed down) and the file's rate. A file that is
    missing or not audio is a ValueError that says which, in words a caller can act on."""
    if not path.is_file():
        raise ValueError("no such file")
    try:
        data, rate = soundfile.read(str(path), dtype="int16", always_2d=True)
    except (soundfile.SoundFileError, RuntimeError) as exc:
        reason = str(exc).rsplit(":", 1)[-1].strip().rstrip(".").lower() or "unknown format"
        raise ValueError(
            f"not a readable audio file ({reason}; use WAV, FLAC, OGG or AIFF)"
        ) from None
    samples = data.astype(np.int32).mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.asarray(samples, dtype=np.int16), int(rate)


def load_audio(path: Path, rate: int) -> Int16Array:
    """The file as mono 16-bit PCM at `rate`, resampled in high quality: the whole file is
    at hand, so the filter's look-ahead costs nothing here."""
    samples, source_rate = read_audio(path)
    resampler = Resampler(source_rate, rate, "HQ")
    return np.concatenate([resampler.process(samples), resampler.flush()]).astype(np.int16)
