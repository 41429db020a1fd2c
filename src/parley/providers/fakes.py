"""`fake-stt`, `fake-llm`, `fake-tts`: providers that only wait, for tests and the benchmark.

They do no CPU work: each answers after a fixed, configurable delay, so a benchmark built on
them measures Parley's own overhead, and a test built on them can script a conversation on a
controllable clock. Spec arguments are `key=value` pairs, e.g. `fake-llm:ttft=200,gap=5`.
The defaults are those of the standard benchmark (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from parley.audio.pcm import Int16Array
from parley.providers.base import (
    ChatRequest,
    LanguageModel,
    LlmEvent,
    RecognitionListener,
    SpeechChunk,
    SpeechRecognizer,
    SpeechSynthesizer,
    TextDelta,
    Transcription,
    TurnModel,
    TurnVerdict,
    WordMark,
)


def parse_options(argument: str | None, allowed: Sequence[str]) -> dict[str, float]:
    """`"ttft=200,gap=5"` → `{"ttft": 200.0, "gap": 5.0}`; unknown keys are an error."""
    options: dict[str, float] = {}
    for item in (argument or "").split(","):
        if not item:
            continue
        key, _, value = item.partition("=")
        if key not in allowed:
            raise ValueError(f"unknown option {key!r} (options: {', '.join(allowed)})")
        try:
            options[key] = float(value)
        except ValueError:
            raise ValueError(f"option {key} needs a number, not {value!r}") from None
    return options


class FakeRecognizer(SpeechRecognizer):
    """The final transcript `delay_ms` after the turn ends; `texts` cycle per utterance."""

    OPTIONS = ("delay",)

    def __init__(
        self,
        listener: RecognitionListener,
        *,
        delay_ms: float = 100.0,
        texts: Sequence[str] = ("hello there",),
    ) -> None:
        self._listener = listener
        self._delay = delay_ms / 1000
        self._texts = list(texts)
        self._count = 0
        self._utterance: int | None = None
        self._pending: set[asyncio.TimerHandle] = set()

    def begin(self, utterance: int) -> None:
        self._utterance = utterance

    def feed(self, samples: Int16Array) -> None:
        pass

    def finish(self) -> None:
        if self._utterance is None:
            return
        text = self._texts[self._count % len(self._texts)]
        self._count += 1
        result = Transcription(self._utterance, text, final=True)
        self._utterance = None
        loop = asyncio.get_running_loop()
        self._pending.add(loop.call_later(self._delay, self._listener.on_transcription, result))

    def abandon(self) -> None:
        self._utterance = None

    async def aclose(self) -> None:
        for handle in self._pending:
            handle.cancel()
        self._pending.clear()


Script = Callable[[ChatRequest], Sequence[LlmEvent]]


def benchmark_reply(tokens: int) -> Script:
    words = [f"word{i}" for i in range(1, tokens + 1)]
    events = [TextDelta(w if i == 0 else " " + w) for i, w in enumerate(words)]
    events[-1] = TextDelta(events[-1].text + ".")
    return lambda _request: events


class FakeModel(LanguageModel):
    """Streams a scripted answer: first event after `ttft_ms`, then one every `gap_ms`."""

    name = "fake-llm"
    OPTIONS = ("ttft", "gap", "tokens")

    def __init__(
        self,
        *,
        ttft_ms: float = 200.0,
        gap_ms: float = 5.0,
        script: Script | None = None,
        tokens: int = 20,
    ) -> None:
        self._ttft = ttft_ms / 1000
        self._gap = gap_ms / 1000
        self._script = script or benchmark_reply(tokens)
        self.requests: list[ChatRequest] = []

    async def respond(self, request: ChatRequest) -> AsyncIterator[LlmEvent]:
        """Events fall due on a fixed schedule from the request, as a remote model's tokens
        reach the socket whatever our loop is doing: a late loop delivers every event that
        has come due at once instead of pushing the rest of the schedule back."""
        self.requests.append(request)
        events = list(self._script(request))
        loop = asyncio.get_running_loop()
        start = loop.time()
        for index, event in enumerate(events):
            due = start + self._ttft + index * self._gap
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            yield event


@dataclass(frozen=True)
class ToneShape:
    delay_ms: float = 100.0
    seconds: float | None = 1.0
    word_ms: float | None = None


class FakeSynthesizer(SpeechSynthesizer):
    """After `delay_ms`, the whole utterance at once: a 440 Hz tone with evenly spaced word
    marks, lasting `seconds` (or `word_ms` per word)."""

    OPTIONS = ("delay", "seconds", "word_ms")

    def __init__(self, shape: ToneShape = ToneShape(), sample_rate: int = 16000) -> None:
        self.sample_rate = sample_rate
        self._shape = shape

    async def synthesize(self, text: str) -> AsyncIterator[SpeechChunk]:
        await asyncio.sleep(self._shape.delay_ms / 1000)
        words = [(m.start(), m.end()) for m in _words(text)]
        if self._shape.word_ms is not None:
            seconds = max(1, len(words)) * self._shape.word_ms / 1000
        else:
            seconds = self._shape.seconds or 1.0
        samples = tone(self.sample_rate, seconds)
        step = seconds * 1000 / max(1, len(words))
        marks = tuple(WordMark(start, end, i * step) for i, (start, end) in enumerate(words))
        yield SpeechChunk(samples, marks)


def _words(text: str) -> list[re.Match[str]]:
    return list(re.finditer(r"\S+", text))


@cache
def tone(rate: int, seconds: float, hz: float = 440.0, amplitude: float = 8000.0) -> Int16Array:
    """A sine tone (cached and read-only: fakes should cost the server nothing)."""
    t = np.arange(int(rate * seconds)) / rate
    samples = (np.sin(2 * np.pi * hz * t) * amplitude).astype(np.int16)
    samples.flags.writeable = False
    return samples


class FakeTurnModel(TurnModel):
    """An end-of-turn model that waits `delay_ms` and answers from a script: the `n`-th
    question's probability (the last one repeats), or raises it if it is an exception.
    `asked` keeps how much audio each question carried."""

    window_samples = 8 * 16000

    def __init__(self, answers: Sequence[float | Exception], delay_ms: float = 50.0) -> None:
        self._answers = list(answers)
        self._delay_s = delay_ms / 1000
        self.asked: list[int] = []

    async def predict(self, audio: Int16Array) -> TurnVerdict:
        answer = self._answers[min(len(self.asked), len(self._answers) - 1)]
        self.asked.append(audio.size)
        await asyncio.sleep(self._delay_s)
        if isinstance(answer, Exception):
            raise answer
        return TurnVerdict(answer, compute_ms=self._delay_s * 1000)
