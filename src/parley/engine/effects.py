"""What the session core asks its shell to do: the only way a decision leaves the core.

`SessionCore.handle(event, now)` returns a list of these, in order. The shell carries each
out (emit to the dialect, start a provider task, set a real timer, store a row) and feeds
what comes back in as events. Nothing here does I/O; the `Outbox` is the list the parts of
the core append to while one event is handled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parley.engine.chunker import Sentence
from parley.engine.events import EndReason, Event
from parley.engine.timers import ArmTimer, CancelTimer, TimerKey, TimerKind, TimerTable
from parley.engine.tools import ToolDefinition
from parley.engine.transcript import Record
from parley.providers.base import ChatRequest


@dataclass(frozen=True, slots=True)
class Emit:
    """Send an event to the dialect."""

    event: Event


@dataclass(frozen=True, slots=True)
class Save:
    """Store (or replace, by `seq`) a transcript row."""

    record: Record


@dataclass(frozen=True, slots=True)
class BeginRecognition:
    """Speech started: start recognising `utterance` (the pre-roll first, then live audio).
    `expect`: words it is likely to say (backchannels, for speech over the agent)."""

    utterance: int
    expect: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FinishRecognition:
    """The turn is over: stop feeding audio, a final transcript is owed."""

    utterance: int


@dataclass(frozen=True, slots=True)
class PauseRecognition:
    """The caller fell silent: the turn may be ending (a recogniser may start early)."""

    utterance: int


@dataclass(frozen=True, slots=True)
class ResumeRecognition:
    """The caller spoke again after a pause."""

    utterance: int


@dataclass(frozen=True, slots=True)
class AbandonRecognition:
    """The utterance is dropped: stop feeding audio, no transcript is owed."""

    utterance: int


@dataclass(frozen=True, slots=True)
class CheckTurn:
    """Ask the end-of-turn model whether `utterance` sounds finished (its `check`-th
    question), from the caller's latest audio; the answer comes back as a `TurnCheck`."""

    utterance: int
    check: int


@dataclass(frozen=True, slots=True)
class StartSpeech:
    """A new response: open its speech stream (sentences in, synthesised audio back)."""

    response: int


@dataclass(frozen=True, slots=True)
class Speak:
    response: int
    sentence: Sentence


@dataclass(frozen=True, slots=True)
class EndSpeech:
    """No more sentences for this response's speech stream."""

    response: int


@dataclass(frozen=True, slots=True)
class AskModel:
    """Start one model round of a response."""

    response: int
    request: ChatRequest


@dataclass(frozen=True, slots=True)
class CloseResponse:
    """The response is over (played out or cancelled): stop its model and speech work;
    anything it still posts is dropped."""

    response: int


@dataclass(frozen=True, slots=True)
class RunTool:
    """Run a server-side tool; its result comes back as `ServerToolDone`."""

    call_id: str
    definition: ToolDefinition
    arguments: dict[str, Any]
    facts: dict[str, Any]  # the call's id, history and state, for parameters it fills in


@dataclass(frozen=True, slots=True)
class EndSession:
    reason: EndReason


Effect = (
    Emit
    | Save
    | ArmTimer
    | CancelTimer
    | BeginRecognition
    | FinishRecognition
    | PauseRecognition
    | ResumeRecognition
    | AbandonRecognition
    | CheckTurn
    | StartSpeech
    | Speak
    | EndSpeech
    | AskModel
    | CloseResponse
    | RunTool
    | EndSession
)


class Outbox:
    """The effects of the event being handled, and the session's timer table."""

    def __init__(self) -> None:
        self.effects: list[Effect] = []
        self.timers = TimerTable()

    def take(self) -> list[Effect]:
        effects, self.effects = self.effects, []
        return effects

    def add(self, effect: Effect) -> None:
        self.effects.append(effect)

    def emit(self, event: Event) -> None:
        self.effects.append(Emit(event))

    def save(self, record: Record) -> None:
        self.effects.append(Save(record))

    def arm(self, kind: TimerKind, key: TimerKey, at: float) -> None:
        self.effects.append(self.timers.arm(kind, key, at))

    def disarm(self, kind: TimerKind, key: TimerKey) -> None:
        cancel = self.timers.cancel(kind, key)
        if cancel is not None:
            self.effects.append(cancel)
