"""One agent response as the session core sees it: its text, rounds, phases and timing, and
the events its provider work reports back.

A response may run several model rounds (text, tool calls, results, more text); its speech
spans all of them. Three things go on at once, each with its own phase:

- the model (`RoundPhase`): ASKING while a round streams, TOOLS while the round's calls
  wait for results, CLOSED once no more text will come;
- the synthesiser (`SpeechPhase`): SYNTHESISING until the last sentence is spoken, DONE;
- the caller's player (`PlayPhase`): SILENT until the first frame is sent, AUDIBLE, then
  DRAINED once the last frame has been sent (`AgentAudioDone`).

The response is complete when the model is CLOSED, speech DONE, every frame sent and played
out. While *held* (the caller speaks over it and `interruption` is `confirm`) nothing is
sent and it cannot complete; it is then resumed from where the caller stopped hearing it,
or cancelled. Events carry the response id; the core applies one only to the current response, so a
cancelled response's late text, audio or tool calls never reach the conversation.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from parley.engine.chunker import Sentence, SentenceChunker
from parley.engine.events import EndReason, Reaction
from parley.engine.measures import BargeIn, EndOfTurn, TurnMetrics
from parley.providers.base import SpeechChunk, ToolCall


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
class ModelUsage:
    """The tokens one model round used, as its provider reported them."""

    response: int
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class SentenceStarted:
    response: int
    sentence: Sentence


@dataclass(frozen=True, slots=True)
class SpeechAudio:
    response: int
    chunk: SpeechChunk
    sample_rate: int  # the rate of the synthesiser that made it


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
    | ModelUsage
    | SpeechDone
    | SpeechFailed
)


class RoundPhase(enum.Enum):
    ASKING = "asking"  # a model round is streaming
    TOOLS = "tools"  # the round ended in tool calls; their results are awaited
    CLOSED = "closed"  # no more text will come


class SpeechPhase(enum.Enum):
    SYNTHESISING = "synthesising"
    DONE = "done"


class PlayPhase(enum.Enum):
    SILENT = "silent"  # no frame sent yet
    AUDIBLE = "audible"  # frames going out
    DRAINED = "drained"  # the last frame has been sent


@dataclass
class TurnTiming:
    """When the turn that this response answers ended, and what that took (loop times)."""

    turn_end: float  # end of the caller's speech, or arrival of a typed turn
    endpoint_ms: float | None = None
    stt_ms: float | None = None
    stt_fallback: bool = False  # the recogniser was overloaded; a lighter one heard the turn
    end_of_turn: EndOfTurn | None = None  # how the caller's spoken turn was judged over
    model_asked: float | None = None
    first_token: float | None = None
    first_sentence: float | None = None
    first_audio: float | None = None
    first_frame: float | None = None

    def metrics(self, turn: int) -> TurnMetrics:
        """The turn's latency, stage by stage, from these moments."""
        return TurnMetrics(
            turn=turn,
            endpoint_ms=self.endpoint_ms,
            stt_ms=self.stt_ms,
            stt_fallback=self.stt_fallback,
            llm_ttft_ms=_ms(self.model_asked, self.first_token),
            tts_ttfb_ms=_ms(self.first_sentence, self.first_audio),
            total_ms=_ms(self.turn_end, self.first_frame),
            end_of_turn=self.end_of_turn,
        )


def _ms(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else round((end - start) * 1000, 1)


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
    text: str = ""
    chunker: SentenceChunker = field(default_factory=SentenceChunker)
    segments: list[Segment] = field(default_factory=list)
    rounds: int = 0  # model rounds asked
    refused_rounds: int = 0  # rounds whose tool calls were refused (past the cap)
    calls: list[ToolCall] = field(default_factory=list)  # the current round's
    model: RoundPhase = RoundPhase.ASKING
    speech: SpeechPhase = SpeechPhase.SYNTHESISING
    play: PlayPhase = PlayPhase.SILENT
    ends_with: EndReason | None = None  # the session ends once this response has been heard
    transfer_to: str | None = None  # with `ends_with` `transfer`: where the caller goes
    uninterruptible: bool = False  # the caller cannot talk over it
    reaction: Reaction = "speaks"  # after this round's tool results: speak again or listen
    citations: list[dict[str, Any]] = field(default_factory=list)  # the sources it drew on
    checkpoint_due_ms: float = 0.0  # playback position of the next transcript checkpoint
    instructions: str | None = None  # this response's system prompt, if not the session's
    out_of_band: bool = False  # for the client only: kept neither in history nor transcript
    sentences_queued: int = 0  # given to the synthesiser …
    sentences_spoken: int = 0  # … and synthesised in full
    tools_announced: bool = False  # `ToolsAwaited` was said for the current tool round
    usage: tuple[int, int] | None = None  # (input, output) tokens over its rounds, if told
    tools: Any = None  # ToolCatalogue: this response's own tools, instead of the session's
    held_since: float | None = None  # paused for speech over it (`interruption: confirm`)
    barge_ins: list[BargeIn] = field(default_factory=list)  # speech over it, as resolved

    @property
    def group(self) -> int:
        return self.segments[-1].group

    @property
    def settled(self) -> bool:
        """Nothing more will be said: the model is done and no tool is awaited (the
        response may still be playing out)."""
        return self.model is RoundPhase.CLOSED

    def add_text(self, text: str) -> list[Sentence]:
        """Append model text; the sentences it completes are ready to speak."""
        self.text += text
        return [s for s in self.chunker.push(text) if s.text.strip()]

    def release(self) -> Sentence | None:
        """What is buffered, sentence end or not (a round ended in tool calls)."""
        tail = self.chunker.flush()
        return tail if tail is not None and tail.text.strip() else None

    def close_text(self) -> Sentence | None:
        """No more text will come; the rest, if any, is ready to speak."""
        self.model = RoundPhase.CLOSED
        return self.release()
