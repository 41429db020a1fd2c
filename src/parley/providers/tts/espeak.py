"""espeak-ng speech synthesis, in-process through ctypes, streaming, abortable, timed.

libespeak-ng keeps global state (one voice, one callback, one synthesis at a time), so the
process has one synthesis thread that owns the library. A synthesis is a job on its queue;
the library's callback hands each ~60 ms chunk (with WORD events carrying the character
position and audio offset of every word) back to the event loop; returning 1 from the
callback aborts the synthesis at once, which is how barge-in stops it. Synthesis runs a few
hundred times faster than real time, so the queue stays short even with many sessions.

The library and its data ship in the `espeakng-loader` wheel (espeak-ng is GPL-3.0+, loaded
at run time, not bundled in Parley's source).
"""

from __future__ import annotations

import ctypes
import logging
import queue
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from parley.providers.base import ProviderError, SpeechChunk, SpeechSynthesizer, WordMark
from parley.providers.once import PerProcess
from parley.providers.tts.threaded import Deliver, Item, from_thread

log = logging.getLogger("parley.tts")

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
DEFAULT_WPM = 175
FALLBACK_VOICE = "en-us"


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(eq=False)
class _Job:
    """One synthesis. `deliver` is called on the synthesis thread with each chunk, then an
    exception or None at the end."""

    text: str
    voice: str
    wpm: int
    deliver: Deliver
    aborted: threading.Event = field(default_factory=threading.Event)


def open_library() -> tuple[ctypes.CDLL, int]:
    """libespeak-ng from `espeakng_loader`, initialised for synchronous synthesis: the library
    and its sample rate. Global state: one per process."""
    import espeakng_loader

    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    data = espeakng_loader.get_data_path().encode()
    rate = int(lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INITIALIZE_DONT_EXIT))
    if rate <= 0:
        raise RuntimeError("espeak-ng failed to initialise")
    return lib, rate


class EspeakEngine:
    """The process's one espeak-ng instance and the thread that drives it.

    libespeak-ng is global state, so there must be one engine per process: use `shared()`.
    """

    _made: ClassVar[PerProcess[EspeakEngine]] = PerProcess()

    @classmethod
    def shared(cls) -> EspeakEngine:
        return cls._made.get(None, cls)

    def __init__(self) -> None:
        self._lib, self.sample_rate = open_library()
        self._callback = _Callback(self._on_audio)  # keep a reference: C holds the pointer
        self._lib.espeak_SetSynthCallback(self._callback)
        self._current: _Job | None = None
        self._voice: str | None = None
        self._wpm: int | None = None
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="parley-espeak", daemon=True)
        self._thread.start()

    def warm(self, voice: str = FALLBACK_VOICE) -> None:
        """Load the voice data now (the first synthesis otherwise takes ~300 ms)."""
        done = threading.Event()

        def deliver(item: Item) -> None:
            if not isinstance(item, SpeechChunk):
                done.set()

        self.submit(_Job("ready", voice, DEFAULT_WPM, deliver))
        done.wait(10)

    def synthesizer(self, voice: str, wpm: int = DEFAULT_WPM) -> EspeakSynthesizer:
        return EspeakSynthesizer(self, voice, wpm)

    def submit(self, job: _Job) -> None:
        self._jobs.put(job)

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=5)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            if job.aborted.is_set():
                self._emit(job, None)
                continue
            self._current = job
            try:
                self._configure(job)
                encoded = job.text.encode("utf-8")
                status = self._lib.espeak_Synth(
                    encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
                )
                if status != 0 and not job.aborted.is_set():
                    raise RuntimeError(f"espeak_Synth returned {status}")
                self._emit(job, None)
            except Exception as exc:
                self._emit(job, exc)
            finally:
                self._current = None

    def _configure(self, job: _Job) -> None:
        if job.voice != self._voice:
            if self._lib.espeak_SetVoiceByName(job.voice.encode()) != 0:
                log.warning("espeak has no voice %r; speaking with %s", job.voice, FALLBACK_VOICE)
                if self._lib.espeak_SetVoiceByName(FALLBACK_VOICE.encode()) != 0:
                    raise ProviderError("espeak", "no usable voice", retryable=False)
            self._voice = job.voice
        if job.wpm != self._wpm:
            self._lib.espeak_SetParameter(_PARAM_RATE, job.wpm, 0)
            self._wpm = job.wpm

    def _on_audio(
        self, wav: ctypes._Pointer[ctypes.c_short], count: int, events: ctypes._Pointer[_Event]
    ) -> int:
        job = self._current
        if job is None:
            return 1
        if job.aborted.is_set():
            return 1
        marks: list[WordMark] = []
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == _EVENT_WORD:
                start = event.text_position - 1  # espeak counts characters from 1
                marks.append(WordMark(start, start + event.length, float(event.audio_position)))
            index += 1
        samples = (
            np.ctypeslib.as_array(wav, shape=(count,)).astype(np.int16)
            if count > 0 and wav
            else np.zeros(0, dtype=np.int16)
        )
        if samples.size or marks:
            self._emit(job, SpeechChunk(samples, tuple(marks)))
        return 0

    @staticmethod
    def _emit(job: _Job, item: Item) -> None:
        try:
            job.deliver(item)
        except Exception:
            log.exception("could not deliver synthesised audio")


class EspeakSynthesizer(SpeechSynthesizer):
    def __init__(self, engine: EspeakEngine, voice: str, wpm: int) -> None:
        self._engine = engine
        self._voice = voice
        self._wpm = wpm
        self.sample_rate = engine.sample_rate

    def synthesize(self, text: str) -> AsyncIterator[SpeechChunk]:
        def start(deliver: Deliver) -> threading.Event:
            job = _Job(text, self._voice, self._wpm, deliver)
            self._engine.submit(job)
            return job.aborted

        return from_thread("espeak", start)
