"""One agent response: its state, and the child tasks that stream the model and the voice.

The child tasks do provider work and nothing else: they post what happens back to the
conversation's inbox as events tagged with the response id. The actor applies an event only
if its response is still the current one, so a cancelled response's late text, audio or tool
calls can never leak into the conversation.

A response may run several model rounds (text, tool calls, results, more text); its speech
task spans all of them, reading sentences from one queue until the final round closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from parley.engine.chunker import Sentence, SentenceChunker
from parley.providers.base import (
    ChatRequest,
    LanguageModel,
    SpeechChunk,
    SpeechSynthesizer,
    TextDelta,
    ToolCall,
)

log = logging.getLogger("parley.engine")

MAX_SENTENCES = 512


@dataclass(frozen=True, slots=True)
class ModelText:
    response: int
    text: str


@dataclass(frozen=True, slots=True)
class ModelToolCall:
    response: int
    call: ToolCall


@dataclass(frozen=True, slots=True)
class ModelDone:
    response: int


@dataclass(frozen=True, slots=True)
class ModelFailed:
    response: int
    error: Exception


@dataclass(frozen=True, slots=True)
class SentenceStarted:
    response: int
    sentence: Sentence


@dataclass(frozen=True, slots=True)
class SpeechAudio:
    response: int
    chunk: SpeechChunk


@dataclass(frozen=True, slots=True)
class SentenceSpoken:
    response: int


@dataclass(frozen=True, slots=True)
class SpeechDone:
    response: int


@dataclass(frozen=True, slots=True)
class SpeechFailed:
    response: int
    error: Exception


ResponseEvent = (
    ModelText
    | ModelToolCall
    | ModelDone
    | ModelFailed
    | SentenceStarted
    | SpeechAudio
    | SentenceSpoken
    | SpeechDone
    | SpeechFailed
)


@dataclass
class TurnTiming:
    """When the turn that this response answers ended, and what that took (loop times)."""

    turn_end: float  # end of the caller's speech, or arrival of a typed turn
    endpoint_ms: float | None = None
    stt_ms: float | None = None
    model_asked: float | None = None
    first_token: float | None = None
    first_sentence: float | None = None
    first_audio: float | None = None
    first_frame: float | None = None


@dataclass
class Segment:
    """The text one model round spoke, and the transcript row it becomes."""

    seq: int
    group: int
    start: int
    end: int | None = None


@dataclass
class Response:
    id: int
    turn: int
    timing: TurnTiming
    scripted: bool
    text: str = ""
    chunker: SentenceChunker = field(default_factory=SentenceChunker)
    segments: list[Segment] = field(default_factory=list)
    rounds: int = 0
    calls: list[ToolCall] = field(default_factory=list)
    model_busy: bool = False
    text_closed: bool = False
    speech_done: bool = False
    audio_done_sent: bool = False
    hang_up: bool = False
    failed: bool = False
    checkpoint_due_ms: float = 0.0  # playback position of the next transcript checkpoint
    _sentences: asyncio.Queue[Sentence | None] = field(
        default_factory=lambda: asyncio.Queue(MAX_SENTENCES)
    )
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def group(self) -> int:
        return self.segments[-1].group

    def start_speech(self, tts: SpeechSynthesizer, post: Callable[[ResponseEvent], None]) -> None:
        self._spawn(_speak(self.id, self._sentences, tts, post), "speech")

    def ask(
        self, llm: LanguageModel, request: ChatRequest, post: Callable[[ResponseEvent], None]
    ) -> None:
        self.model_busy = True
        self.rounds += 1
        self.calls = []
        self._spawn(_think(self.id, llm, request, post), "model")

    def add_text(self, text: str) -> None:
        self.text += text
        for sentence in self.chunker.push(text):
            self._queue(sentence)

    def release(self) -> None:
        """Speak what is buffered now, sentence end or not (a round ended in tool calls)."""
        tail = self.chunker.flush()
        if tail is not None:
            self._queue(tail)

    def close_text(self) -> None:
        """No more text will come: speak the rest and end the speech stream."""
        tail = self.chunker.flush()
        if tail is not None:
            self._queue(tail)
        self.text_closed = True
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

    def _queue(self, sentence: Sentence) -> None:
        if not sentence.text.strip():
            return
        try:
            self._sentences.put_nowait(sentence)
        except asyncio.QueueFull:
            log.error(
                "response %d has over %d sentences; the rest is not spoken", self.id, MAX_SENTENCES
            )

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coroutine, name=f"response-{self.id}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _think(
    response: int, llm: LanguageModel, request: ChatRequest, post: Callable[[ResponseEvent], None]
) -> None:
    try:
        async for event in llm.respond(request):
            if isinstance(event, TextDelta):
                if event.text:
                    post(ModelText(response, event.text))
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
    post: Callable[[ResponseEvent], None],
) -> None:
    try:
        while (sentence := await sentences.get()) is not None:
            post(SentenceStarted(response, sentence))
            async for chunk in tts.synthesize(sentence.text):
                post(SpeechAudio(response, chunk))
            post(SentenceSpoken(response))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        post(SpeechFailed(response, exc))
    else:
        post(SpeechDone(response))
