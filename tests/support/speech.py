"""Test speech: espeak-ng (the Debian binary, not Parley's in-process copy) through sox.

Utterances are 16 kHz mono s16le with faint Gaussian noise (σ = 50), like a quiet line; the
same text always gives the same audio. Results are cached per process.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache

import numpy as np
import pytest

NOISE_SIGMA = 50.0


def require_tools() -> None:
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"test speech needs {', '.join(missing)} (Debian packages)")


@cache
def speech(text: str, rate: int = 16000, wpm: int = 160, *, ssml: bool = False) -> bytes:
    """`ssml`: `text` is SSML (`<break time="800ms"/>` for a pause inside one sentence)."""
    require_tools()
    wav = subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", str(wpm), *(["-m"] if ssml else []), "--stdout", text],
        capture_output=True,
        check=True,
    ).stdout
    raw = subprocess.run(
        [
            "sox",
            "-t",
            "wav",
            "-",
            "-t",
            "raw",
            "-r",
            str(rate),
            "-e",
            "signed",
            "-b",
            "16",
            "-c",
            "1",
            "-",
        ],
        input=wav,
        capture_output=True,
        check=True,
    ).stdout
    samples = np.frombuffer(raw, np.int16).astype(np.float64)
    samples += np.random.default_rng(len(text)).normal(0, NOISE_SIGMA, samples.size)
    return np.clip(samples, -32768, 32767).astype(np.int16).tobytes()


def noise(seconds: float, rate: int = 16000, seed: int = 1) -> bytes:
    samples = np.random.default_rng(seed).normal(0, NOISE_SIGMA, int(rate * seconds))
    return samples.astype(np.int16).tobytes()
