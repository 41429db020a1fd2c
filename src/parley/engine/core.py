"""The session core: every decision a conversation makes, in one pure object.

Sans-I/O, as python-websockets' protocol objects are: `handle(event, now)` applies one
event and returns the effects to carry out (`engine/effects.py`); it never awaits, reads a
clock or touches a provider. The asyncio `Conversation` feeds it (client commands, VAD
results, transcripts, model text, synthesised audio, tool results, timer firings) and
carries its effects out. Being pure, the core runs in tests on any interleaving of events
a real loop could produce.

Inside, the caller's side is `Hearing` (phase QUIET → SPEAKING ⇄ PAUSED → RECOGNISING), the
agent's is `Responding` (one `Response` at a time with its round, speech and play phases),
tools are the `ToolDesk`'s, and every timer is in the outbox's `TimerTable`, where a firing
whose generation is stale is dropped before anything sees it.

The core owns the turn count, the history, the transcript numbering, the agent's state and
the end of the session: `max_turns` answered turns end it, and a user turn past the cap is
not answered.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args

from parley.engine.effects import Effect, EndSession, Outbox
from parley.engine.events import (
    Disconnected,
    Ended,
    EndReason,
    InjectionRefused,
    Interrupt,
    Interrupted,
    Notice,
    PlaybackProgress,
    Ready,
    Reconfigure,
    SayAsAgent,
    State,
    Stop,
    ToolResult,
    Transcript,
    UserText,
)
from parley.engine.hearing import AgentSide, HeardFrames, Hearing, RecognitionFailed
from parley.engine.history import History, Said
from parley.engine.plan import Plan
from parley.engine.responding import Responding
from parley.engine.response import Response, ResponseEvent, TurnTiming
from parley.engine.speaking import Speaker
from parley.engine.status import Status
from parley.engine.timers import TimerFired
from parley.engine.tooldesk import DispatchedCall, ServerToolDone, ToolDesk
from parley.engine.transcript import Record
from parley.engine.turns import TurnDetector
from parley.providers.base import Transcription


@dataclass(frozen=True, slots=True)
class Open:
    """The session starts: greet, answer an opening message, or listen."""


@dataclass(frozen=True, slots=True)
class Close:
    """The session is over (the shell stops after this): cancel, settle, say `Ended`."""

    reason: EndReason


RESPONSE_EVENTS: tuple[type, ...] = get_args(ResponseEvent)


class SessionCore(AgentSide):
    def __init__(self, plan: Plan, *, vad_frame_ms: float, vad_trailing_frames: int) -> None:
        self.plan = plan
        self.turn = 0
        self.history = History(plan.history)
        self.ending: EndReason | None = None
        self.out = Outbox()
        self.status = Status(self.out, plan.system_prompt)
        self.desk = ToolDesk(
            catalogue=plan.tools,
            history=self.history,
            out=self.out,
            next_seq=self.status.next_seq,
            client_timeout_s=plan.client_tool_timeout_s,
            server_timeout_s=plan.server_tool_timeout_s,
        )
        speaker = Speaker(
            plan.output_format,
            frame_ms=plan.frame_ms,
            lead_ms=plan.lead_ms,
            emit=self.out.emit,
        )
        self.responding = Responding(
            plan=plan,
            speaker=speaker,
            desk=self.desk,
            history=self.history,
            out=self.out,
            status=self.status,
        )
        detector = TurnDetector(
            threshold=plan.vad.threshold,
            start_ms=plan.vad.start_ms,
            frame_ms=vad_frame_ms,
            trailing_frames=vad_trailing_frames,
        )
        self.hearing = Hearing(
            settings=plan.vad,
            detector=detector,
            recognition_timeout_s=plan.recognition_timeout_s,
            out=self.out,
            agent=weakref.proxy(self),
            status=self.status,
        )

    @property
    def state(self) -> State:
        return self.status.state

    @property
    def system_prompt(self) -> str:
        return self.status.system_prompt

    def handle(self, event: object, now: float) -> list[Effect]:
        """Apply one event; the effects to carry out, in order."""
        handler = _HANDLERS.get(type(event))
        if handler is None:
            raise TypeError(f"the session core does not handle {type(event).__name__}")
        if self.ending is None or isinstance(event, Close):
            handler(self, event, now)
        return self.out.take()

    # AgentSide: what hearing asks of the rest -------------------------------------------------

    def busy(self) -> bool:
        return self.responding.current is not None

    def barge_in(self, now: float) -> bool:
        return self.responding.cancel(now)

    def next_turn(self) -> int:
        return self.turn + 1

    def user_turn(self, text: str, timing: TurnTiming, now: float) -> None:
        if self.responding.cancel(now):
            self.out.emit(Interrupted())
        if self.turn >= self.plan.max_turns:
            self._end("max_turns")  # the cap is the engine's: a turn past it is not answered
            return
        self.turn += 1
        self.history.add(Said("user", text))
        self.out.save(Record(self.status.next_seq(), "user", text, turn=self.turn))
        self.out.emit(Transcript("user", text, final=True, turn=self.turn))
        self.responding.answer(self.turn, timing, now)

    # Commands --------------------------------------------------------------------------

    def _open(self, event: Open, now: float) -> None:
        self.out.emit(Ready())  # the engine takes audio from now on
        opening = self.plan.opening
        if opening.kind == "say" and opening.text:
            self.responding.say(0, opening.text, TurnTiming(now))
        elif opening.kind == "user" and opening.text:
            self.user_turn(opening.text, TurnTiming(now), now)
        elif opening.kind == "context" and opening.text:
            self.responding.answer(0, TurnTiming(now), now, extra_user=opening.text)
        else:
            self.status.set_state("listening")

    def _typed(self, event: UserText, now: float) -> None:
        self.user_turn(event.text, TurnTiming(now), now)

    def _interrupt(self, event: Interrupt, now: float) -> None:
        if self.responding.cancel(now):
            self.out.emit(Interrupted())
        self.status.set_state("listening")

    def _stop(self, event: Stop, now: float) -> None:
        self._end(event.reason)

    def _disconnected(self, event: Disconnected, now: float) -> None:
        self._end("disconnect")

    def _played(self, event: PlaybackProgress, now: float) -> None:
        self.responding.speaker.acknowledge(event.played_ms, now)

    def _say_as_agent(self, event: SayAsAgent, now: float) -> None:
        if self.responding.current is not None:
            self.out.emit(InjectionRefused(event.text, "agent_speech"))
        elif self.hearing.utterance is not None:
            self.out.emit(InjectionRefused(event.text, "user_speech"))
        else:
            self.responding.say(self.turn, event.text, TurnTiming(now))

    def _reconfigure(self, change: Reconfigure, now: float) -> None:
        """The prompt and tools are the core's; the shell swaps the providers."""
        if change.system_prompt is not None:
            self.status.system_prompt = change.system_prompt
        if change.tools is not None:
            self.desk.catalogue = change.tools

    # Tools and timers -------------------------------------------------------------------------

    def _client_tool_result(self, result: ToolResult, now: float) -> None:
        call = self.desk.resolve(
            result.call_id, result.result, failed=result.is_error, from_client=True
        )
        if call is None:
            message = f"no client tool call {result.call_id!r} is waiting for a result"
            self.out.emit(Notice("unknown_tool_call", message))
            return
        self._tool_done(call, now)

    def _server_tool_done(self, done: ServerToolDone, now: float) -> None:
        self._tool_done(self.desk.resolve(done.call_id, done.result, failed=done.failed), now)

    def _tool_done(self, call: DispatchedCall | None, now: float) -> None:
        if call is None:
            return
        group = call.invocation.group
        if not self.desk.outstanding(call.response, group):
            self.responding.tools_settled(call.response, group, now)

    def _timer(self, fired: TimerFired, now: float) -> None:
        if not self.out.timers.accept(fired):
            return  # cancelled or re-armed after it was set off: stale by rule
        kind, key = fired.kind, fired.key
        if kind == "pace":
            self.responding.pace(now)
        elif kind == "tool_timeout":
            self._tool_done(self.desk.timed_out(str(key)), now)
        elif kind == "played_out":
            finished = self.responding.played_out(int(key), now)
            if finished is not None:
                self._response_finished(finished)
        elif kind == "endpoint":
            self.hearing.endpoint(int(key), now)
        elif kind == "barge_in":
            self.hearing.barge_in_due(int(key), now)
        elif kind == "recognition":
            self.hearing.recognition_overdue(int(key))

    # Lifecycle --------------------------------------------------------------------------

    def _response_finished(self, response: Response) -> None:
        if response.hang_up:
            self._end("agent_hangup")
        elif response.turn >= self.plan.max_turns:
            self._end("max_turns")

    def _end(self, reason: EndReason) -> None:
        if self.ending is None:
            self.ending = reason
            self.out.add(EndSession(reason))

    def _close(self, event: Close, now: float) -> None:
        self.ending = self.ending or event.reason
        for cancel in self.out.timers.clear():
            self.out.add(cancel)
        self.responding.cancel(now)
        self.desk.close()
        self.hearing.close()
        self.status.set_state("idle")
        self.out.emit(Ended(event.reason, self.history.transcript()))


# Handlers by event type, as plain functions of (core, event, now): a table of bound methods
# on each core would be a reference cycle per session.
_HANDLERS: dict[type, Callable[[SessionCore, Any, float], None]] = {
    HeardFrames: lambda core, event, now: core.hearing.frames(event, now),
    TimerFired: SessionCore._timer,
    Transcription: lambda core, event, now: core.hearing.transcription(event, now),
    ServerToolDone: SessionCore._server_tool_done,
    PlaybackProgress: SessionCore._played,
    UserText: SessionCore._typed,
    Interrupt: SessionCore._interrupt,
    ToolResult: SessionCore._client_tool_result,
    Stop: SessionCore._stop,
    Disconnected: SessionCore._disconnected,
    RecognitionFailed: lambda core, event, now: core.hearing.recognition_failed(event),
    SayAsAgent: SessionCore._say_as_agent,
    Reconfigure: SessionCore._reconfigure,
    Open: SessionCore._open,
    Close: SessionCore._close,
    **{
        kind: lambda core, event, now: core.responding.handle(event, now)
        for kind in RESPONSE_EVENTS
    },
}
