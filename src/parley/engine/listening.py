"""The caller's side of a conversation: audio in, utterances out.

Caller audio is converted to 16 kHz, cut into VAD frames and sent for analysis; results drive
the turn detector as they come back, and its signals go to the conversation's inbox.
Recognition runs only while the caller speaks: at speech onset the recogniser gets the last
half second of audio (the pre-roll, so the first syllable is not lost while the VAD made up its
mind) and then live audio until the turn ends.

The listener keeps the mechanics; what a signal *means* (a barge-in, a new turn) is the
conversation's decision.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from parley.audio.convert import InputConverter
from parley.audio.formats import AudioFormat
from parley.audio.pcm import Framer, Int16Array
from parley.engine.agent import VadSettings
from parley.engine.turns import Signal, TurnDetector
from parley.providers.base import RECOGNITION_RATE, SpeechRecognizer, VoiceActivityDetector

PREROLL_MS = 500


@dataclass
class Utterance:
    """One stretch of caller speech, from onset to the end of the turn."""

    id: int
    started_at: float
    interrupting: bool  # began while the agent was thinking or speaking
    confirmed: bool  # counts: not interrupting, or long enough to barge in
    ended_at: float | None = None  # when the speech itself ended (estimated)
    endpoint_at: float | None = None  # when the turn was declared over
    final_text: str | None = None
    partial: str = ""

    def duration_ms(self) -> float:
        end = self.ended_at if self.ended_at is not None else self.started_at
        return (end - self.started_at) * 1000


class Listener:
    def __init__(
        self,
        *,
        source: AudioFormat,
        vad: VoiceActivityDetector,
        recognizer: SpeechRecognizer,
        settings: VadSettings,
        post: Callable[[Signal], None],
    ) -> None:
        self.settings = settings
        self.vad = vad
        self.recognizer = recognizer
        self._post = post
        self._converter = InputConverter(source, RECOGNITION_RATE)
        self._framer = Framer(vad.frame_samples)
        self.detector = TurnDetector(
            threshold=settings.threshold,
            start_ms=settings.start_ms,
            frame_ms=vad.frame_samples * 1000 / RECOGNITION_RATE,
            trailing_frames=vad.trailing_frames,
        )
        self._preroll: deque[Int16Array] = deque()
        self._preroll_samples = 0
        self._preroll_limit = RECOGNITION_RATE * PREROLL_MS // 1000
        self.utterance: Utterance | None = None
        self._next_id = 1

    def audio(self, data: bytes, now: float) -> None:
        samples = self._converter.convert(data)
        if samples.size == 0:
            return
        if self.utterance is not None and self.utterance.endpoint_at is None:
            self.recognizer.feed(samples)
        else:
            self._remember(samples)
        already = self._framer.pending
        frames = self._framer.push(samples)
        size = self._framer.size
        for index, frame in enumerate(frames):
            # when this frame's last sample arrived: the chunk arrived `now`, and what
            # follows the frame in the chunk took that long to record
            after = samples.size - ((index + 1) * size - already)
            self.vad.analyse(frame, partial(self._deliver, now - after / RECOGNITION_RATE))

    def _deliver(self, frame_end: float, probability: float) -> None:
        """A frame's speech probability: the turn detector (a pure state machine) takes it
        at once, and only a change (onset, silence, resumed speech) goes to the actor. Most
        frames change nothing, and an actor step per frame was a tenth of the loop's time
        at 100 sessions."""
        signal = self.detector.frame(probability, frame_end)
        if signal is not None:
            self._post(signal)

    def begin(self, started_at: float, *, interrupting: bool) -> Utterance:
        """Speech has started: open an utterance and start recognising it."""
        if self.utterance is not None and self.utterance.endpoint_at is None:
            self.recognizer.abandon()
        utterance = Utterance(self._next_id, started_at, interrupting, not interrupting)
        self._next_id += 1
        self.utterance = utterance
        self.recognizer.begin(utterance.id)
        if self._preroll:
            self.recognizer.feed(np.concatenate(list(self._preroll)))
        self._preroll.clear()
        self._preroll_samples = 0
        return utterance

    def end_of_turn(self, now: float) -> Utterance | None:
        """The endpoint passed: ask for the final transcript of the utterance, if it counts."""
        utterance = self.utterance
        self.detector.end_turn()
        if utterance is None or utterance.endpoint_at is not None:
            return None
        utterance.endpoint_at = now
        if not utterance.confirmed or utterance.duration_ms() < self.settings.min_turn_ms:
            self.drop()
            return None
        self.recognizer.finish()
        return utterance

    def drop(self) -> None:
        """Forget the current utterance (too short, noise over the agent, …)."""
        if self.utterance is not None and self.utterance.final_text is None:
            self.recognizer.abandon()
        self.utterance = None

    def _remember(self, samples: Int16Array) -> None:
        self._preroll.append(samples)
        self._preroll_samples += samples.size
        while (
            self._preroll and self._preroll_samples - self._preroll[0].size >= self._preroll_limit
        ):
            self._preroll_samples -= self._preroll.popleft().size
