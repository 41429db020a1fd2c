"""Streaming resampling with soxr.

Two qualities, for two jobs. The live input path (caller audio on its way to VAD and speech
recognition) uses `QQ`, which adds no buffering delay; `HQ` would hold back 20–66 ms per
call, and that delay would land directly on turn-taking. Output audio (TTS on its way to the
caller) is produced ahead of real time and is flushed at the end of each utterance, so
there `HQ` costs no latency and buys clean sound.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import soxr

from parley.audio.pcm import EMPTY, Int16Array

Quality = Literal["QQ", "LQ", "MQ", "HQ", "VHQ"]
LIVE: Quality = "QQ"
OUTPUT: Quality = "HQ"


class Resampler:
    """Mono int16 resampling across chunks; a pass-through when the rates are equal."""

    def __init__(self, in_rate: int, out_rate: int, quality: Quality = LIVE) -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = (
            None
            if in_rate == out_rate
            else soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16", quality=quality)
        )

    def process(self, samples: Int16Array) -> Int16Array:
        if self._stream is None:
            return samples
        result: Int16Array = self._stream.resample_chunk(samples)
        return result

    def flush(self) -> Int16Array:
        """Whatever the filter still holds; the stream may be reused afterwards."""
        if self._stream is None:
            return EMPTY
        tail: Int16Array = self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
        self._stream.clear()
        return tail
