"""Streaming speech recognition with pocketsphinx, offline, from the wheel's own model.

pocketsphinx holds the GIL while it decodes, so threads add no capacity, but they keep the
event loop free: each session's decoder work runs on a shared worker pool, serialised per
session through a lane of pending operations (consecutive audio chunks are merged into one
`process_raw` call when the lane is behind). Results come back to the loop as callbacks.

What measuring the embedded stack taught, applied: a domain language model when the agent
has keyterms (generic otherwise), faint Gaussian dither on the audio (exact digital silence
ruins the acoustic model's feature normalisation), `fwdflat`/`bestpath` off so ending an
utterance costs ~10 ms instead of ~150 ms, and one decoder per session (its cepstral mean
carries over).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from parley.audio.pcm import Int16Array
from parley.providers.base import RecognitionListener, SpeechRecognizer, Transcription
from parley.providers.once import PerProcess
from parley.providers.stt import domain_lm

log = logging.getLogger("parley.stt")

DITHER_SIGMA = 50.0
PARTIAL_EVERY_SAMPLES = 3200  # a partial hypothesis at most every 200 ms of audio


@dataclass(slots=True)
class _Op:
    kind: str  # "init" | "begin" | "feed" | "pause" | "finish" | "abandon"
    utterance: int = 0
    samples: Int16Array | None = None


class PocketsphinxRecognizer(SpeechRecognizer):
    def __init__(
        self,
        *,
        listener: RecognitionListener,
        executor: Executor,
        keyterms: list[str],
        cache_dir: Path,
    ) -> None:
        self._listener = listener
        self._executor = executor
        self._loop = asyncio.get_running_loop()
        self._keyterms = keyterms
        self._cache_dir = cache_dir
        self._ops: deque[_Op] = deque()
        self._lock = threading.Lock()
        self._scheduled = False
        self._closed = False
        self._decoder: Any = None
        self._broken: str | None = None
        self._utterance: int | None = None
        self._since_partial = 0
        self._last_partial = ""
        self._rng = np.random.default_rng(0)  # same audio, same transcript
        self._push(_Op("init"))

    # Engine-facing API (event loop thread) ---------------------------------------------------

    def begin(self, utterance: int) -> None:
        self._push(_Op("begin", utterance))

    def feed(self, samples: Int16Array) -> None:
        self._push(_Op("feed", samples=samples))

    def finish(self) -> None:
        self._push(_Op("finish"))

    def pause(self) -> None:
        """The caller fell silent: the words so far, as a partial (the engine's end of turn
        reads them), even if they have not changed since the last."""
        self._push(_Op("pause"))

    def abandon(self) -> None:
        self._push(_Op("abandon"))

    async def aclose(self) -> None:
        """Stop, and free the decoder now: it holds tens of MB of native memory (90 MB with
        the generic model) that the garbage collector cannot see, and the recogniser may sit
        in a reference cycle with its session until a rare full collection. A worker that
        is mid-operation frees it when it finishes."""
        with self._lock:
            self._closed = True
            self._ops.clear()
            if not self._scheduled:
                self._decoder = None

    def _push(self, op: _Op) -> None:
        with self._lock:
            if self._closed:
                return
            self._ops.append(op)
            if self._scheduled:
                return
            self._scheduled = True
        self._executor.submit(self._drain)

    # Worker side ----------------------------------------------------------------------------

    def _drain(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    self._decoder = None
                if self._closed or not self._ops:
                    self._scheduled = False
                    return
                op = self._ops.popleft()
                if op.kind == "feed":  # merge every queued chunk into one decode call
                    parts = [op.samples]
                    while self._ops and self._ops[0].kind == "feed":
                        parts.append(self._ops.popleft().samples)
                    op = _Op("feed", samples=np.concatenate([p for p in parts if p is not None]))
            try:
                self._apply(op)
            except Exception as exc:
                log.exception("pocketsphinx failed on %s", op.kind)
                failed = self._utterance if self._utterance is not None else op.utterance
                self._utterance = None
                self._post(self._listener.on_recognition_error, failed, exc)

    def _apply(self, op: _Op) -> None:
        if op.kind == "init":
            try:
                self._decoder = self._make_decoder()
            except Exception as exc:
                self._broken = f"speech recognition could not start: {exc}"
                raise
            return
        if self._broken is not None:
            if op.kind == "begin":
                raise RuntimeError(self._broken)
            return
        if op.kind == "begin":
            if self._utterance is not None:
                self._decoder.end_utt()
            self._decoder.start_utt()
            self._utterance = op.utterance
            self._since_partial, self._last_partial = 0, ""
        elif op.kind == "feed" and self._utterance is not None and op.samples is not None:
            noisy = op.samples + self._rng.normal(0.0, DITHER_SIGMA, op.samples.size)
            pcm = np.clip(noisy, -32768, 32767).astype(np.int16)
            self._decoder.process_raw(pcm.tobytes(), False, False)
            self._since_partial += op.samples.size
            if self._since_partial >= PARTIAL_EVERY_SAMPLES:
                self._since_partial = 0
                self._partial()
        elif op.kind == "finish" and self._utterance is not None:
            self._decoder.end_utt()
            hypothesis = self._decoder.hyp()
            text = hypothesis.hypstr if hypothesis is not None else ""
            result = Transcription(self._utterance, text, final=True)
            self._utterance = None
            self._post(self._listener.on_transcription, result)
        elif op.kind == "pause" and self._utterance is not None:
            self._partial(again=True)
        elif op.kind == "abandon" and self._utterance is not None:
            self._decoder.end_utt()
            self._utterance = None

    def _partial(self, *, again: bool = False) -> None:
        hypothesis = self._decoder.hyp()
        text = hypothesis.hypstr if hypothesis is not None else ""
        if text and (again or text != self._last_partial) and self._utterance is not None:
            self._last_partial = text
            self._post(
                self._listener.on_transcription, Transcription(self._utterance, text, final=False)
            )

    def _make_decoder(self) -> Any:
        return _decoder(tuple(self._keyterms), self._cache_dir)

    def _post(self, callback: Any, *args: Any) -> None:
        def deliver() -> None:
            if not self._closed:
                callback(*args)

        with contextlib.suppress(RuntimeError):  # the loop is gone; so is the session
            self._loop.call_soon_threadsafe(deliver)


def _decoder(keyterms: tuple[str, ...], cache_dir: Path) -> Any:
    """A decoder on a domain language model of `keyterms`, or the generic model."""
    from pocketsphinx import Decoder

    options: dict[str, Any] = {"loglevel": "FATAL", "fwdflat": False, "bestpath": False}
    if keyterms:
        model = domain_lm.build(list(keyterms), cache_dir)
        options.update(
            hmm=str(domain_lm.model_dir() / "en-us"),
            lm=str(model.lm_path),
            dict=str(model.dict_path),
        )
    return Decoder(**options)


class SharedDecoders:
    """pocketsphinx decoders shared by every session, one per keyterm set, for whole-utterance
    decodes (the overload fallback of a heavier recogniser). A decoder takes ~0.6 s and
    ~90 MB to load with the generic model, too much per session and per turn; shared, a
    fallback costs only its decode. Each decoder is used by one thread at a time; the
    utterance is decoded as a whole (`full_utt`), so its cepstral mean is its own."""

    MAX_DECODERS = 8
    _made: ClassVar[PerProcess[SharedDecoders]] = PerProcess()

    @classmethod
    def shared(cls, cache_dir: Path) -> SharedDecoders:
        """The process's decoders (domain models are cached by content, so the first
        cache directory serves every caller)."""
        return cls._made.get(None, lambda: cls(cache_dir))

    def __init__(self, cache_dir: Path) -> None:
        self._cache_dir = cache_dir
        self._decoders: dict[tuple[str, ...], tuple[threading.Lock, Any]] = {}
        self._lock = threading.Lock()
        self._rng = np.random.default_rng(0)

    def decoder(self, keyterms: tuple[str, ...]) -> tuple[threading.Lock, Any]:
        with self._lock:
            found = self._decoders.pop(keyterms, None)
            if found is None:
                found = (threading.Lock(), _decoder(keyterms, self._cache_dir))
            self._decoders[keyterms] = found  # most recently used last
            while len(self._decoders) > self.MAX_DECODERS:
                self._decoders.pop(next(iter(self._decoders)))
            return found

    def transcribe(self, samples: Int16Array, keyterms: tuple[str, ...]) -> str:
        lock, decoder = self.decoder(keyterms)
        noisy = samples + self._rng.normal(0.0, DITHER_SIGMA, samples.size)
        pcm = np.clip(noisy, -32768, 32767).astype(np.int16).tobytes()
        with lock:
            decoder.start_utt()
            decoder.process_raw(pcm, False, True)
            decoder.end_utt()
            hypothesis = decoder.hyp()
        return hypothesis.hypstr if hypothesis is not None else ""


class BatchPocketsphinxRecognizer(SpeechRecognizer):
    """An utterance kept until `finish`, then decoded whole on a shared decoder."""

    def __init__(
        self,
        *,
        listener: RecognitionListener,
        executor: Executor,
        decoders: SharedDecoders,
        keyterms: tuple[str, ...],
    ) -> None:
        self._listener = listener
        self._executor = executor
        self._decoders = decoders
        self._keyterms = keyterms
        self._loop = asyncio.get_running_loop()
        self._utterance: int | None = None
        self._audio: list[Int16Array] = []
        self._closed = False

    def begin(self, utterance: int) -> None:
        self._utterance, self._audio = utterance, []

    def feed(self, samples: Int16Array) -> None:
        if self._utterance is not None:
            self._audio.append(samples)

    def finish(self) -> None:
        utterance, audio = self._utterance, self._audio
        self._utterance, self._audio = None, []
        if utterance is None:
            return
        samples = np.concatenate(audio) if audio else np.zeros(0, np.int16)
        future = self._executor.submit(self._decoders.transcribe, samples, self._keyterms)
        future.add_done_callback(lambda done: self._post(utterance, done))

    def abandon(self) -> None:
        self._utterance, self._audio = None, []

    async def aclose(self) -> None:
        self._closed = True

    def _post(self, utterance: int, done: Any) -> None:
        def deliver() -> None:
            if self._closed:
                return
            error = done.exception()
            if error is not None:
                self._listener.on_recognition_error(utterance, error)
            else:
                self._listener.on_transcription(Transcription(utterance, done.result(), True))

        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(deliver)
