"""The caller's audio, in the shell: converted, framed, analysed, and fed to the recogniser
when the core says so.

Caller audio is converted to 16 kHz, cut into VAD frames and sent for analysis; the results
are collected as they come back and handed to the core in batches (`take_results`), where
the turn detector lives. Recognition runs only while the core has an utterance open: at
`BeginRecognition` the recogniser gets the last half second of audio (the pre-roll, so the
first syllable is not lost while the VAD made up its mind) and then live audio until
`FinishRecognition` or `AbandonRecognition`.

For an end-of-turn model the listener also keeps the caller's last seconds (`recent`,
`keep_samples`): references to the chunks as they came, joined only when the model asks.

No decisions here: what a result means (an onset, a barge-in, a turn) is the core's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial

import numpy as np

from parley.audio.convert import InputConverter
from parley.audio.formats import AudioFormat
from parley.audio.pcm import Framer, Int16Array
from parley.providers.base import RECOGNITION_RATE, SpeechRecognizer, VoiceActivityDetector

PREROLL_MS = 500
LOST_S = 2.0  # a VAD answer this late is not coming


def _nothing() -> None:
    pass


class Listener:
    def __init__(
        self,
        *,
        source: AudioFormat,
        vad: VoiceActivityDetector,
        recognizer: SpeechRecognizer,
        results_ready: Callable[[], None],
        keep_samples: int = 0,
    ) -> None:
        self.vad = vad
        self.recognizer = recognizer
        self._results_ready = results_ready
        self._converter = InputConverter(source, RECOGNITION_RATE)
        self._framer = Framer(vad.frame_samples)
        self._preroll: deque[Int16Array] = deque()
        self._preroll_samples = 0
        self._preroll_limit = RECOGNITION_RATE * PREROLL_MS // 1000
        self._results: list[tuple[float, float]] = []
        self._unanswered: deque[float] = deque()  # end times of frames the VAD still owes
        self._analysing = False  # inside `audio`: the shell takes the results right after
        self._current: int | None = None  # the utterance the recogniser works on
        self._feeding = False  # … and is fed live audio (until the turn ends)
        self._recent = _Recent(keep_samples) if keep_samples else None

    def audio(self, data: bytes, now: float) -> None:
        samples = self._converter.convert(data)
        if samples.size == 0:
            return
        if self._feeding:
            self.recognizer.feed(samples)
        else:
            self._remember(samples)
        if self._recent is not None:
            self._recent.add(samples)
        already = self._framer.pending
        frames = self._framer.push(samples)
        size = self._framer.size
        self._analysing = True
        try:
            for index, frame in enumerate(frames):
                # when this frame's last sample arrived: the chunk arrived `now`, and what
                # follows the frame in the chunk took that long to record
                after = samples.size - ((index + 1) * size - already)
                frame_end = now - after / RECOGNITION_RATE
                self._unanswered.append(frame_end)
                self.vad.analyse(frame, partial(self._deliver, frame_end))
        finally:
            self._analysing = False

    def _deliver(self, frame_end: float, probability: float) -> None:
        """A frame's speech probability. Results are collected, and the actor is told once
        per batch: most frames change nothing, and an actor step per frame was a tenth of
        the loop's time at 100 sessions."""
        self._results.append((probability, frame_end))
        unanswered = self._unanswered
        while unanswered and unanswered[0] <= frame_end:  # answers come in frame order
            unanswered.popleft()
        if len(self._results) == 1 and not self._analysing:
            self._results_ready()

    def vad_owes_since(self, now: float) -> float | None:
        """When the oldest frame the VAD has not answered yet ended (None: it owes none). A
        frame it will never answer (dropped by a VAD far behind, or lost with a restarted
        worker) is forgotten after `LOST_S`."""
        unanswered = self._unanswered
        while unanswered and now - unanswered[0] > LOST_S:
            unanswered.popleft()
        return unanswered[0] if unanswered else None

    def let_go(self) -> None:
        """The session has closed: drop the way back to it (the owner's `results_ready`),
        so the two are freed by reference counting, not left in a cycle."""
        self._results_ready = _nothing

    def recent(self, samples: int) -> Int16Array:
        """The caller's last `samples` of 16 kHz audio (less at the start of a call)."""
        if self._recent is None:
            return np.zeros(0, np.int16)
        return self._recent.last(samples)

    def take_results(self) -> list[tuple[float, float]]:
        results, self._results = self._results, []
        return results

    def begin(self, utterance: int, expect: tuple[str, ...] = ()) -> None:
        if self._feeding:
            self.recognizer.abandon()
        self._current, self._feeding = utterance, True
        self.recognizer.begin(utterance)
        if expect:
            self.recognizer.expect(expect)
        if self._preroll:
            self.recognizer.feed(np.concatenate(list(self._preroll)))
        self._preroll.clear()
        self._preroll_samples = 0

    def finish(self, utterance: int) -> None:
        """The turn is over: what the recogniser has is the turn. The pre-roll starts
        afresh, so the next turn's never repeats the end of this one."""
        if self._current == utterance and self._feeding:
            self._feeding = False
            self.recognizer.finish()
            self._preroll.clear()
            self._preroll_samples = 0

    def pause(self, utterance: int) -> None:
        if self._current == utterance and self._feeding:
            self.recognizer.pause()

    def resume(self, utterance: int) -> None:
        if self._current == utterance and self._feeding:
            self.recognizer.resume()

    def abandon(self, utterance: int) -> None:
        """No final is owed for `utterance` (dropped before or after its turn ended)."""
        if self._current == utterance:
            self._current, self._feeding = None, False
            self.recognizer.abandon()

    def _remember(self, samples: Int16Array) -> None:
        self._preroll.append(samples)
        self._preroll_samples += samples.size
        while (
            self._preroll and self._preroll_samples - self._preroll[0].size >= self._preroll_limit
        ):
            self._preroll_samples -= self._preroll.popleft().size


class _Recent:
    """The last `limit` samples, as the chunks they came in (no copy per chunk)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._chunks: deque[Int16Array] = deque()
        self._samples = 0

    def add(self, samples: Int16Array) -> None:
        self._chunks.append(samples)
        self._samples += samples.size
        while self._chunks and self._samples - self._chunks[0].size >= self._limit:
            self._samples -= self._chunks.popleft().size

    def last(self, count: int) -> Int16Array:
        if not self._chunks:
            return np.zeros(0, np.int16)
        joined = np.concatenate(list(self._chunks))
        return joined[-count:] if count < joined.size else joined
