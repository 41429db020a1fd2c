"""Fallback chains: one provider after another, with timeouts, for every role.

A chain tries its providers in order. A provider that fails *before it produced anything*
(an error, a timeout waiting for its first output, a 429) gives way to the next; once output
has been produced (words are being spoken) a failure is final, since what was said cannot be
taken back. A 429 whose `Retry-After` is short is retried once on the same provider: a voice
turn cannot wait longer than that.

Chains wrap single providers too, so every provider gets the same timeouts and policy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TypeVar

import numpy as np

from parley.audio.pcm import Int16Array
from parley.providers.base import (
    ChatRequest,
    LanguageModel,
    LlmEvent,
    ProviderError,
    RecognitionListener,
    SpeechChunk,
    SpeechRecognizer,
    SpeechSynthesizer,
    Transcription,
)
from parley.providers.errors import classify

log = logging.getLogger("parley.providers")

SHORT_RETRY_AFTER_S = 1.0
MAX_UTTERANCE_SAMPLES = 16000 * 60
T = TypeVar("T")
P = TypeVar("P")


def _retry_delay(error: ProviderError, attempt: int) -> float | None:
    """Seconds to wait before retrying the same provider, or None to move on."""
    if (
        attempt == 0
        and error.status == 429
        and error.retry_after is not None
        and error.retry_after <= SHORT_RETRY_AFTER_S
    ):
        return error.retry_after
    return None


async def _first_then_rest(
    stream: AsyncIterator[T], first_timeout: float, gap_timeout: float
) -> AsyncIterator[T]:
    """The stream; fails if the first item takes `first_timeout`, a later one `gap_timeout`."""
    timeout = first_timeout
    while True:
        try:
            # asyncio.timeout, not wait_for: no task per item, and no exception left in a
            # reference cycle with its task's frame (that kept a reply's words until a full
            # collection)
            async with asyncio.timeout(timeout):
                item = await anext(stream)
        except StopAsyncIteration:
            return
        yield item
        timeout = gap_timeout


async def _fall_through(
    providers: Sequence[P],
    stream_of: Callable[[P], AsyncIterator[T]],
    name_of: Callable[[P], str],
    role: str,
    first_timeout: float,
    gap_timeout: float,
) -> AsyncIterator[tuple[P, T]]:
    """Each provider's stream in turn until one completes; items tagged with their provider."""
    failures: list[str] = []
    for provider in providers:
        attempt = 0
        while True:
            produced = False
            stream = stream_of(provider)
            try:
                async for item in _first_then_rest(stream, first_timeout, gap_timeout):
                    produced = True
                    yield provider, item
                return
            except Exception as exc:
                error = classify(name_of(provider), exc)
                if produced:
                    raise error from exc
                delay = _retry_delay(error, attempt)
                if delay is None:
                    log.warning("%s failed, trying the next: %s", role, error)
                    failures.append(str(error))
                    break
                attempt += 1
                await asyncio.sleep(delay)
            finally:
                await stream.aclose()  # type: ignore[attr-defined]
    raise ProviderError(role, f"every {role} failed: " + "; ".join(failures))


class ModelChain(LanguageModel):
    def __init__(
        self,
        models: Sequence[LanguageModel],
        *,
        first_timeout: float = 8.0,
        gap_timeout: float = 20.0,
    ) -> None:
        self.models = list(models)
        self.name = " → ".join(m.name for m in self.models)
        self._first_timeout = first_timeout
        self._gap_timeout = gap_timeout

    async def respond(self, request: ChatRequest) -> AsyncIterator[LlmEvent]:
        async for _, event in _fall_through(
            self.models,
            lambda model: model.respond(request),
            lambda model: model.name,
            "language model",
            self._first_timeout,
            self._gap_timeout,
        ):
            yield event


class SynthesizerChain(SpeechSynthesizer):
    """Speaks at the first synthesiser's rate; a fallback's audio is resampled to it."""

    def __init__(
        self,
        synthesizers: Sequence[SpeechSynthesizer],
        *,
        first_timeout: float = 5.0,
        gap_timeout: float = 10.0,
    ) -> None:
        self.synthesizers = list(synthesizers)
        self.sample_rate = self.synthesizers[0].sample_rate
        self._first_timeout = first_timeout
        self._gap_timeout = gap_timeout

    async def synthesize(self, text: str) -> AsyncIterator[SpeechChunk]:
        async for synthesizer, chunk in _fall_through(
            self.synthesizers,
            lambda synthesizer: synthesizer.synthesize(text),
            lambda synthesizer: type(synthesizer).__name__,
            "speech synthesiser",
            self._first_timeout,
            self._gap_timeout,
        ):
            yield _at_rate(chunk, synthesizer.sample_rate, self.sample_rate)


def _at_rate(chunk: SpeechChunk, rate: int, target: int) -> SpeechChunk:
    if rate == target:
        return chunk
    from parley.audio.resample import Resampler

    resampler = Resampler(rate, target, "HQ")
    samples = np.concatenate([resampler.process(chunk.samples), resampler.flush()])
    return SpeechChunk(samples, chunk.marks)


class RecognizerChain(SpeechRecognizer, RecognitionListener):
    """Recognition that moves to the next recogniser when the current one fails.

    The chain keeps the current utterance's audio, so when a recogniser fails mid-turn the
    next one hears the whole utterance and the turn is still answered.
    """

    def __init__(
        self,
        listener: RecognitionListener,
        factories: Sequence[Callable[[RecognitionListener], SpeechRecognizer]],
    ) -> None:
        self._listener = listener
        self._factories = list(factories)
        self._index = 0
        self._active = self._factories[0](self)
        self._utterance: int | None = None
        self._audio: list[Int16Array] = []
        self._samples = 0
        self._finishing = False
        self._retired: list[SpeechRecognizer] = []

    def begin(self, utterance: int) -> None:
        self._utterance, self._audio, self._samples, self._finishing = utterance, [], 0, False
        self._active.begin(utterance)

    def feed(self, samples: Int16Array) -> None:
        if self._samples + samples.size <= MAX_UTTERANCE_SAMPLES:
            self._audio.append(samples)
            self._samples += samples.size
        self._active.feed(samples)

    def finish(self) -> None:
        self._finishing = True
        self._active.finish()

    def abandon(self) -> None:
        self._utterance, self._audio, self._samples = None, [], 0
        self._active.abandon()

    def expect(self, phrases: Sequence[str]) -> None:
        self._active.expect(phrases)

    def pause(self) -> None:
        self._active.pause()

    def resume(self) -> None:
        self._active.resume()

    async def aclose(self) -> None:
        for recognizer in [self._active, *self._retired]:
            await recognizer.aclose()

    def on_transcription(self, result: Transcription) -> None:
        self._listener.on_transcription(result)

    def on_recognition_error(self, utterance: int, error: Exception) -> None:
        if self._index + 1 >= len(self._factories):
            self._listener.on_recognition_error(utterance, error)
            return
        log.warning("speech recognition failed, switching to the next: %s", error)
        self._retired.append(self._active)
        self._index += 1
        self._active = self._factories[self._index](self)
        if self._utterance is not None:
            self._active.begin(self._utterance)
            if self._audio:
                self._active.feed(np.concatenate(self._audio))
            if self._finishing:
                self._active.finish()
