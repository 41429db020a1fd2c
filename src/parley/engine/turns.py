"""Turn detection from per-frame speech probabilities: when the caller starts and stops.

A pure state machine: it is fed (probability, frame end time) and answers with what changed.
Timing the end of a turn is left to the caller (a timer `endpoint_ms` after `SilenceStarted`),
so a turn still ends when a client stops sending audio altogether.

- Onset: a frame at or above `threshold` opens a candidate; it becomes speech once speech
  frames have covered `start_ms` without a dip below the lower hysteresis threshold.
  `SpeechStarted.at` is the candidate's first frame, i.e. when the caller started talking.
- Offset: a frame below `threshold - 0.15` while in speech reports `SilenceStarted`, timed at
  the end of the last *confident* frame (at or above `threshold`: the hysteresis keeps a
  fading frame in speech, but it does not date the end) minus the detector's lingering
  (`trailing_frames`): Silero stays confident about one window too long, so that is when
  speech really ended.
- A speech frame during that silence reports `SpeechResumed`.
"""

from __future__ import annotations

from dataclasses import dataclass

HYSTERESIS = 0.15


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    at: float


@dataclass(frozen=True, slots=True)
class SilenceStarted:
    at: float


@dataclass(frozen=True, slots=True)
class SpeechResumed:
    at: float


Signal = SpeechStarted | SilenceStarted | SpeechResumed


class TurnDetector:
    def __init__(
        self,
        *,
        threshold: float,
        start_ms: float,
        frame_ms: float,
        trailing_frames: int = 0,
    ) -> None:
        self.threshold = threshold
        self.low = max(0.01, threshold - HYSTERESIS)
        self.start_s = start_ms / 1000
        self.frame_s = frame_ms / 1000
        self.trailing_s = trailing_frames * self.frame_s
        self._candidate: float | None = None
        self._speaking = False
        self._silent_since: float | None = None
        self._last_speech_end = 0.0

    @property
    def speaking(self) -> bool:
        """In speech (including a silence that has not yet ended the turn)."""
        return self._speaking

    @property
    def in_silence(self) -> bool:
        return self._speaking and self._silent_since is not None

    def retune(self, threshold: float, start_ms: float) -> None:
        """New onset rules (a client's turn-detection settings), from the next frame on."""
        self.threshold = threshold
        self.low = max(0.01, threshold - HYSTERESIS)
        self.start_s = start_ms / 1000

    def reset(self) -> None:
        self._candidate = None
        self._speaking = False
        self._silent_since = None

    def frame(self, probability: float, end: float) -> Signal | None:
        start = end - self.frame_s
        if not self._speaking:
            return self._onset(probability, start, end)
        if probability >= self.threshold:
            self._last_speech_end = end  # a confident window: the end is dated from these
        if probability >= self.threshold or (
            self._silent_since is None and probability >= self.low
        ):
            if self._silent_since is not None:
                self._silent_since = None
                return SpeechResumed(start)
            return None
        if self._silent_since is None:
            self._silent_since = end
            return SilenceStarted(
                max(self._last_speech_end - self.trailing_s, start - self.frame_s)
            )
        return None

    def end_turn(self) -> None:
        """The turn is over (the endpoint timer fired): back to waiting for speech."""
        self.reset()

    def _onset(self, probability: float, start: float, end: float) -> Signal | None:
        if self._candidate is None:
            if probability >= self.threshold:
                self._candidate = start
            else:
                return None
        elif probability < self.low:
            self._candidate = None
            return None
        if end - self._candidate >= self.start_s - 1e-9:
            self._speaking = True
            self._silent_since = None
            self._last_speech_end = end
            return SpeechStarted(self._candidate)
        return None
