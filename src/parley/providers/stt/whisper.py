"""Whisper speech recognition for one session, on the process's shared decoder.

Whisper is not a streaming model: it transcribes a whole utterance at once. This recogniser
keeps the utterance's audio and decodes it at the moments that matter:

- **Speculatively, when the caller falls silent** (`pause`): most pauses end the turn, and
  the decode (~110 ms) fits inside the endpoint window (350 ms by default), so when the
  endpoint fires the final transcript is usually already there. A speculation done before
  the turn ends is also a partial transcript. If speech resumes
  (`resume`) the speculation is discarded: its audio is no longer the whole utterance.
  After a pause the recogniser is fed only silence (the VAD said so), so a speculation
  still standing at `finish` is the final.
- **Periodically while the caller speaks**, for partial transcripts: every
  `PARTIAL_EVERY_S` of new audio, and only when the decoder has a worker idle and nothing
  waiting, so partials never cost a turn its latency.
- **At `finish`**, if no speculation stands.

Overload: when the shared decoder cannot start a final (or speculative) decode soon enough
it refuses, and this turn is recognised by the light recogniser instead (`fallback`, built
on demand, fed the utterance's audio); the transcript says so (`Transcription.fallback`).
A decode it accepted but has not started `max_wait_s` after the turn ended (the queue
moved slower than estimated) is withdrawn and falls back the same way.

Everything here runs on the event loop; decodes run on the decoder's threads and their
results come back through `call_soon_threadsafe`. A result is used only if its utterance
and generation are still current: a late decode for a dropped utterance is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future

import numpy as np

from parley.audio.pcm import Int16Array
from parley.providers.base import (
    RECOGNITION_RATE,
    RecognitionListener,
    SpeechRecognizer,
    Transcription,
)
from parley.providers.stt.whisper_decoder import Priority, WhisperDecoder

PARTIAL_EVERY_S = 1.0
MAX_UTTERANCE_S = 120.0  # beyond this the start of an utterance is kept, the rest dropped

Fallback = Callable[[RecognitionListener], SpeechRecognizer]
_Stamp = tuple[int | None, int]  # (utterance, generation) a decode was asked for
_Done = Callable[[Future[str], _Stamp], None]


class WhisperRecognizer(SpeechRecognizer):
    def __init__(
        self,
        *,
        listener: RecognitionListener,
        decoder: WhisperDecoder,
        keyterms: tuple[str, ...] = (),
        fallback: Fallback | None = None,
        partial_every_s: float = PARTIAL_EVERY_S,
    ) -> None:
        self._listener = listener
        self._decoder = decoder
        self._keyterms = keyterms
        self._prompt = keyterms  # the keyterms, and what the current utterance is expected to say
        self._fallback_factory = fallback
        self._partial_every = int(partial_every_s * RECOGNITION_RATE)  # samples; 0: none
        self._fallback: SpeechRecognizer | None = None
        self._loop = asyncio.get_running_loop()
        self._utterance: int | None = None
        self._generation = 0  # bumped whenever the audio so far stops being the utterance
        self._audio: list[Int16Array] = []
        self._samples = 0
        self._partial_at = 0  # samples at the last partial decode
        self._partial: Future[str] | None = None
        self._speculation: Future[str] | None = None  # of the current generation only
        self._finishing = False
        self._closed = False
        self._deadline: asyncio.TimerHandle | None = None

    # Engine-facing API (event loop thread) ---------------------------------------------------

    def begin(self, utterance: int) -> None:
        self._reset()
        self._utterance = utterance
        self._prompt = self._keyterms

    def expect(self, phrases: Sequence[str]) -> None:
        """Whisper is prompted with them too, for this utterance: measured on espeak's
        "I see" and "uh-huh" alone, it wrote "i-d" and "Uh-uh" unprompted, "I see.." and
        "Uh-huh" prompted, while "no", "wait" and "stop" came out the same either way."""
        self._prompt = (*self._keyterms, *phrases)

    def feed(self, samples: Int16Array) -> None:
        if self._utterance is None or self._finishing:
            return
        if self._samples + samples.size <= MAX_UTTERANCE_S * RECOGNITION_RATE:
            self._audio.append(samples)
            self._samples += samples.size
        if (
            self._partial_every
            and self._speculation is None
            and self._partial is None
            and self._samples - self._partial_at >= self._partial_every
        ):
            self._partial_at = self._samples
            self._partial = self._submit(Priority.PARTIAL, self._on_partial)

    def pause(self) -> None:
        if self._utterance is None or self._finishing or not self._samples:
            return
        self._cancel(self._speculation)
        self._cancel(self._partial)  # of older audio: the speculation decodes all of it
        self._partial = None
        self._speculation = self._submit(Priority.SPECULATIVE, self._on_speculation)

    def resume(self) -> None:
        self._generation += 1
        self._cancel(self._speculation)
        self._speculation = None

    def finish(self) -> None:
        if self._utterance is None or self._finishing:
            return
        self._finishing = True
        self._cancel(self._partial)
        pending = self._speculation  # if it stands, its callback delivers the final
        if pending is not None and not pending.cancelled():
            if pending.done():  # its callback ran before the turn was over
                self._deliver_final(pending, self._stamp())
                return
        else:
            pending = self._submit(Priority.FINAL, self._on_final)
            if pending is None:
                self._fall_back()
                return
        if self._fallback_factory is not None:
            wait = self._decoder.max_wait_s
            self._deadline = self._loop.call_later(wait, self._overdue, pending, self._stamp())

    def abandon(self) -> None:
        self._reset()

    async def aclose(self) -> None:
        self._closed = True
        self._reset()
        if self._fallback is not None:
            await self._fallback.aclose()

    # Decodes -------------------------------------------------------------------------------

    def _stamp(self) -> _Stamp:
        return (self._utterance, self._generation)

    def _submit(self, priority: Priority, done: _Done) -> Future[str] | None:
        audio = np.concatenate(self._audio) if self._audio else np.zeros(0, np.int16)
        refusable = priority is not Priority.FINAL or self._fallback_factory is not None
        future = self._decoder.submit(audio, self._prompt, priority, refusable=refusable)
        if future is not None:
            stamp = self._stamp()
            future.add_done_callback(lambda f: self._post(done, f, stamp))
        return future

    def _on_partial(self, future: Future[str], stamp: _Stamp) -> None:
        """Told only if it is still the utterance's latest decode: one a pause superseded
        (its speculation decodes more audio) is dropped, whenever it finishes."""
        if future is not self._partial:
            return
        self._partial = None
        text = _text(future)
        if text and stamp[0] is not None and stamp[0] == self._utterance and not self._finishing:
            self._listener.on_transcription(Transcription(stamp[0], text, False, punctuated=True))

    def _on_speculation(self, future: Future[str], stamp: _Stamp) -> None:
        """The final if the turn ended meanwhile; else the words so far, as a partial (the
        engine's end of turn reads them: "…and" is not a finished sentence)."""
        if future is not self._speculation:
            return
        if self._finishing:
            self._deliver_final(future, stamp)
        elif stamp == self._stamp() and stamp[0] is not None and (text := _text(future)):
            self._listener.on_transcription(Transcription(stamp[0], text, False, punctuated=True))

    def _on_final(self, future: Future[str], stamp: _Stamp) -> None:
        self._deliver_final(future, stamp)

    def _deliver_final(self, future: Future[str], stamp: _Stamp) -> None:
        """The final transcript, if `future` decoded the current utterance as it now is."""
        utterance = self._utterance
        if utterance is None or stamp != self._stamp() or not self._finishing:
            return
        error = None if future.cancelled() else future.exception()
        if error is not None:
            self._reset()
            self._listener.on_recognition_error(utterance, Exception(str(error)))
            return
        self._reset()
        self._listener.on_transcription(
            Transcription(utterance, _text(future), final=True, punctuated=True)
        )

    def _overdue(self, pending: Future[str], stamp: _Stamp) -> None:
        """The turn's decode has not started within the decoder's wait: the queue moved
        slower than it promised. A decode already running is awaited; one still queued is
        withdrawn and the turn goes to the fallback."""
        self._deadline = None
        if stamp == self._stamp() and self._finishing and pending.cancel():
            self._fall_back()

    def _fall_back(self) -> None:
        """The decoder is saturated: this turn goes to the light recogniser."""
        utterance = self._utterance
        if self._fallback_factory is None or utterance is None:  # closed under us
            self._reset()
            return
        if self._fallback is None:
            self._fallback = self._fallback_factory(_Marked(self._listener))
        self._fallback.begin(utterance)
        if self._audio:
            self._fallback.feed(np.concatenate(self._audio))
        self._fallback.finish()
        self._reset()

    # Plumbing ------------------------------------------------------------------------------

    def _reset(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._generation += 1
        self._cancel(self._partial)
        self._cancel(self._speculation)
        self._utterance, self._partial, self._speculation = None, None, None
        self._audio, self._samples, self._partial_at, self._finishing = [], 0, 0, False

    @staticmethod
    def _cancel(future: Future[str] | None) -> None:
        if future is not None:
            future.cancel()

    def _post(self, callback: _Done, future: Future[str], stamp: _Stamp) -> None:
        """From a decoder thread (or at once, if the future was already done) to the loop."""

        def deliver() -> None:
            if not self._closed:
                callback(future, stamp)

        with contextlib.suppress(RuntimeError):  # the loop is gone; so is the session
            self._loop.call_soon_threadsafe(deliver)


class _Marked(RecognitionListener):
    """Passes the fallback recogniser's results on, finals marked as fallbacks."""

    def __init__(self, listener: RecognitionListener) -> None:
        self._listener = listener

    def on_transcription(self, result: Transcription) -> None:
        if result.final:
            result = Transcription(result.utterance, result.text, final=True, fallback=True)
            self._listener.on_transcription(result)

    def on_recognition_error(self, utterance: int, error: Exception) -> None:
        self._listener.on_recognition_error(utterance, error)


def _text(future: Future[str]) -> str:
    if future.cancelled() or future.exception() is not None:
        return ""
    return future.result()
