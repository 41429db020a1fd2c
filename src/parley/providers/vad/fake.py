"""`fake-vad`: a loudness threshold, for tests that script speech as tone versus silence.

It does no inference: a frame is speech when its RMS exceeds `threshold` (default 300 on
int16). Scripted timelines use it to place speech exactly where they put loud audio.
"""

from __future__ import annotations

from collections.abc import Callable

from parley.audio.pcm import Int16Array, rms
from parley.providers.base import VoiceActivityDetector


class LoudnessDetector(VoiceActivityDetector):
    trailing_frames = 0

    def __init__(self, frame_samples: int = 320, threshold: float = 300.0) -> None:
        self.frame_samples = frame_samples
        self._threshold = threshold

    def analyse(self, frame: Int16Array, deliver: Callable[[float], None]) -> None:
        deliver(1.0 if rms(frame) > self._threshold else 0.0)
