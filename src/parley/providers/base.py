"""The provider roles and the vocabulary they share with the engine.

Providers do work; they know nothing of sessions or wire protocols. Each role is a small
interface shaped by how the conversation engine drives it:

- VAD and STT are *push* interfaces with callbacks: the engine feeds audio frames as they
  arrive and results come back whenever the (possibly off-loop) work finishes. Callbacks are
  always invoked on the event loop thread, so the engine can post them straight to its inbox.
- LLM and TTS are *pull* interfaces: async iterators the engine consumes in a child task and
  cancels (closing the iterator) on barge-in. Closing must stop the work promptly.

All audio handed to or received from providers is mono 16-bit PCM as numpy arrays, at the
rate the provider declares; the engine converts to and from wire formats.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from parley.audio.pcm import Int16Array

Float32Matrix = NDArray[np.float32]

RECOGNITION_RATE = 16000


class ProviderError(Exception):
    """A provider failed in a way the engine should report (and maybe fall back from).

    `retry_after` is the provider's own hint (HTTP `Retry-After`), in seconds.
    """

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        retryable: bool = True,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


class ProviderUnavailable(Exception):
    """A provider cannot be used as configured (no credentials, no such model, …)."""


# Voice activity detection -----------------------------------------------------------------


class VoiceActivityDetector(abc.ABC):
    """Speech probability per fixed-size frame of 16 kHz audio, for one session.

    `trailing_frames` says how many frames the detector's confidence lingers after speech
    really ended (Silero's recurrent state carries about one window); the turn detector uses it
    to time the end of speech from when it happened, not from when the detector noticed.
    """

    frame_samples: int
    trailing_frames: int = 0

    @abc.abstractmethod
    def analyse(self, frame: Int16Array, deliver: Callable[[float], None]) -> None:
        """Queue `frame`; `deliver(probability)` is called on the loop, in frame order."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release per-session state; results still in flight are dropped."""


# End of turn --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TurnVerdict:
    """`probability` that the caller has finished their turn; `compute_ms`: what working it
    out cost the model (features and inference), without any wait for its turn to run."""

    probability: float
    compute_ms: float


class TurnModelBusy(ProviderError):
    """Too many turn checks are already waiting: refused at once rather than queued as lag."""


class TurnModel(abc.ABC):
    """Whether the caller's turn sounds finished, from the last seconds of their audio.

    Shared by every session of a server process. `predict` may be cancelled (the engine's
    own timeout): the late result is then dropped. It raises `TurnModelBusy` when too many
    checks are waiting, and `ProviderError` when the model fails.
    """

    window_samples: int  # how much 16 kHz audio it looks at: anything earlier is ignored

    @abc.abstractmethod
    async def predict(self, audio: Int16Array) -> TurnVerdict:
        """The verdict on 16 kHz mono audio that ends where the caller fell silent."""


# Speech recognition -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transcription:
    """`fallback`: the turn's recogniser was overloaded and a lighter one heard it.
    `punctuated`: the recogniser punctuates what it hears (Whisper does), so a missing full
    stop means something: it did not hear a finished sentence."""

    utterance: int
    text: str
    final: bool
    fallback: bool = False
    punctuated: bool = False


class RecognitionListener(abc.ABC):
    """Where a recognizer reports; always called on the event loop thread."""

    @abc.abstractmethod
    def on_transcription(self, result: Transcription) -> None: ...

    @abc.abstractmethod
    def on_recognition_error(self, utterance: int, error: Exception) -> None: ...


class SpeechRecognizer(abc.ABC):
    """Streaming recognition for one session, one utterance at a time.

    The engine calls `begin` when speech starts (then feeds the pre-roll and live audio),
    `finish` at the end of the turn (exactly one final result, possibly empty, follows for
    that utterance), or `abandon` when the utterance is dropped (no final is owed). Between
    them, `pause` says the caller fell silent (the turn may be ending: a recogniser may start
    its final work early) and `resume` that they spoke again.
    """

    sample_rate: int = RECOGNITION_RATE

    @abc.abstractmethod
    def begin(self, utterance: int) -> None: ...

    @abc.abstractmethod
    def feed(self, samples: Int16Array) -> None: ...

    @abc.abstractmethod
    def finish(self) -> None: ...

    @abc.abstractmethod
    def abandon(self) -> None: ...

    def expect(self, phrases: Sequence[str]) -> None:  # noqa: B027 - optional hook
        """Words likely in the utterance just begun (a caller talking over the agent is
        likely acknowledging it: "Mm-hmm."); a recogniser that can be prompted may lean on
        them. Said right after `begin`, for that utterance only."""

    def pause(self) -> None:  # noqa: B027 - optional hook
        """The caller fell silent; audio keeps coming until `finish` or `resume`."""

    def resume(self) -> None:  # noqa: B027 - optional hook
        """The caller spoke again after `pause`."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Stop all work; nothing is delivered afterwards."""


# Language models --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChatTurn:
    """One message of the model's context, in the shape every chat API shares."""

    role: Literal["user", "assistant", "tool", "system"]  # system: an instruction mid-way
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    tool_name: str | None = None


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolAnswer:
    """A server-side tool's result, and what its answer asks of the call: end it once the
    agent has finished (`hang_up`), speak again or listen (`reaction`), change the call's
    state (`state`, merged into it)."""

    text: str
    hang_up: bool = False
    reaction: Literal["speaks", "listens", "speaks_once"] | None = None  # None: the tool's
    state: dict[str, Any] | None = None
    citations: tuple[dict[str, Any], ...] = ()  # the sources the result quotes


@dataclass(frozen=True, slots=True)
class ChatRequest:
    system_prompt: str
    turns: tuple[ChatTurn, ...]
    tools: tuple[ToolSpec, ...] = ()
    allow_tools: bool = True
    temperature: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallRequest:
    call: ToolCall


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens a model reported for one request (a model that reports none sends none)."""

    input_tokens: int
    output_tokens: int


LlmEvent = TextDelta | ToolCallRequest | Usage


class LanguageModel(abc.ABC):
    name: str

    @abc.abstractmethod
    def respond(self, request: ChatRequest) -> AsyncIterator[LlmEvent]:
        """Stream the answer: text deltas, then any tool calls, then the iterator ends."""


# Speech synthesis -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WordMark:
    """A word of the synthesised text (`start`:`end` characters) begins at `at_ms`."""

    start: int
    end: int
    at_ms: float


@dataclass(frozen=True, slots=True)
class SpeechChunk:
    samples: Int16Array
    marks: tuple[WordMark, ...] = field(default=())


class SpeechSynthesizer(abc.ABC):
    sample_rate: int

    @abc.abstractmethod
    def synthesize(self, text: str) -> AsyncIterator[SpeechChunk]:
        """Stream audio for `text`; closing the iterator aborts the synthesis."""


# Text embedding -----------------------------------------------------------------------------


class TextEmbedder(abc.ABC):
    """Texts as unit-length float32 vectors (one row each), for semantic search of
    knowledge. Documents are embedded as they are read; a question, while a caller waits."""

    name: str
    model: str  # vectors of different models are never compared

    @abc.abstractmethod
    async def embed_documents(self, texts: Sequence[str]) -> Float32Matrix: ...

    @abc.abstractmethod
    async def embed_query(self, text: str, *, wait_s: float) -> Float32Matrix: ...
