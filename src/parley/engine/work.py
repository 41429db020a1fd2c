"""A response's provider work, in the shell: the model rounds and the speech stream.

The core decides (`AskModel`, `StartSpeech`, `Speak`, `EndSpeech`, `CloseResponse`); this
runs it. The child tasks do provider work and nothing else: they post what happens back to
the conversation's inbox as events tagged with the response id. Closing a response cancels
its tasks; whatever they posted before that is dropped by the core by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from parley.engine.chunker import Sentence
from parley.engine.response import (
    ModelDone,
    ModelFailed,
    ModelText,
    ModelToolCall,
    ModelUsage,
    ResponseEvent,
    SentenceSpoken,
    SentenceStarted,
    SpeechAudio,
    SpeechDone,
    SpeechFailed,
)
from parley.providers.base import (
    ChatRequest,
    LanguageModel,
    SpeechSynthesizer,
    TextDelta,
    Usage,
)

log = logging.getLogger("parley.engine")

MAX_SENTENCES = 512

Post = Callable[[ResponseEvent], None]


class ResponseWork:
    def __init__(self, response: int, tts: SpeechSynthesizer, post: Post) -> None:
        self.response = response
        self._post = post
        self._sentences: asyncio.Queue[Sentence | None] = asyncio.Queue(MAX_SENTENCES)
        self._tasks: set[asyncio.Task[None]] = set()
        self._spawn(_speak(response, self._sentences, tts, post), "speech")

    def ask(self, llm: LanguageModel, request: ChatRequest) -> None:
        self._spawn(_think(self.response, llm, request, self._post), "model")

    def speak(self, sentence: Sentence) -> None:
        try:
            self._sentences.put_nowait(sentence)
        except asyncio.QueueFull:
            log.error(
                "response %d has over %d sentences; the rest is not spoken",
                self.response,
                MAX_SENTENCES,
            )

    def end_speech(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._sentences.put_nowait(None)

    async def cancel(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coroutine, name=f"response-{self.response}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _think(response: int, llm: LanguageModel, request: ChatRequest, post: Post) -> None:
    try:
        async for event in llm.respond(request):
            if isinstance(event, TextDelta):
                if event.text:
                    post(ModelText(response, event.text))
            elif isinstance(event, Usage):
                post(ModelUsage(response, event.input_tokens, event.output_tokens))
            else:
                post(ModelToolCall(response, event.call))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        post(ModelFailed(response, exc))
    else:
        post(ModelDone(response))


async def _speak(
    response: int,
    sentences: asyncio.Queue[Sentence | None],
    tts: SpeechSynthesizer,
    post: Post,
) -> None:
    try:
        while (sentence := await sentences.get()) is not None:
            post(SentenceStarted(response, sentence))
            async for chunk in tts.synthesize(sentence.text):
                post(SpeechAudio(response, chunk, tts.sample_rate))
            post(SentenceSpoken(response))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        post(SpeechFailed(response, exc))
    else:
        post(SpeechDone(response))
