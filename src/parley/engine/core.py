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

import functools
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args

from parley.engine import end_of_turn, holding, keypad, timer_routes, tool_answers
from parley.engine.agent_side import AgentSide
from parley.engine.continuation import can_continue, extend_turn, withdraw_searches
from parley.engine.effects import Effect, EndSession, Outbox
from parley.engine.end_of_turn import TurnCheck
from parley.engine.events import (
    Disconnected,
    DropTurn,
    Ended,
    EndReason,
    EndTurn,
    Forget,
    Forgotten,
    InjectionRefused,
    Interrupt,
    Interrupted,
    KeyPress,
    Medium,
    Notice,
    PlaybackProgress,
    Ready,
    Reconfigure,
    Remember,
    Respond,
    SayAsAgent,
    SetOutputMedium,
    State,
    Stop,
    ToolResult,
    Transcript,
    TurnTaking,
    UserText,
)
from parley.engine.hearing import HeardFrames, Hearing, RecognitionFailed
from parley.engine.history import History, Said
from parley.engine.lifecycle import Lifecycle
from parley.engine.measures import BargeIn
from parley.engine.plan import Plan
from parley.engine.responding import Responding
from parley.engine.response import Response, ResponseEvent, TurnTiming
from parley.engine.speaking import Speaker
from parley.engine.status import Status
from parley.engine.timers import TimerFired
from parley.engine.tooldesk import ServerToolDone, ToolDesk
from parley.engine.transcript import Record
from parley.engine.turns import TurnDetector
from parley.engine.waiting_lines import WaitingLines
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
    def __init__(
        self,
        plan: Plan,
        *,
        vad_frame_ms: float,
        vad_trailing_frames: int,
        turn_model: bool = False,
    ) -> None:
        """`turn_model`: an end-of-turn model answers `CheckTurn` (semantic end of turn)."""
        self.plan = plan
        self.turn = 0
        self.history = History(plan.history)
        self.ending: EndReason | None = None
        self.out = Outbox()
        self.status = Status(self.out, plan.system_prompt, plan.initial_state)
        self.desk = ToolDesk(
            catalogue=plan.tools,
            history=self.history,
            out=self.out,
            next_seq=self.status.next_seq,
            client_timeout_s=plan.client_tool_timeout_s,
            server_timeout_s=plan.server_tool_timeout_s,
            facts=functools.partial(tool_answers.facts, self.status, self.history, plan),
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
            language=plan.language,
            turn_model=turn_model,
        )
        self.lifecycle = Lifecycle(plan.lifecycle, self.out)
        self._queued = WaitingLines()  # said once the agent and the caller are done
        self._answer_owed = False  # a typed turn came mid-reply: answer it once that is done
        self._owed_respond: Respond | None = None  # a client's, waiting for quiet
        self.keypad = keypad.Keypad()
        self.transfer_to: str | None = None  # where a `transfer` ending hands the caller

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
            if self.ending is None:
                self._settle(now)
        return self.out.take()

    def _settle(self, now: float) -> None:
        """After every event: what waits for quiet (queued messages, an owed answer, the
        inactivity prompts) gets its turn."""
        quiet = self.responding.current is None and not self.hearing.caller_mid_turn
        if quiet and self._owed_respond is not None:
            owed, self._owed_respond = self._owed_respond, None
            self._answer_owed = self._answer_owed and owed.out_of_band
            self._start_respond(owed, now)
            quiet = False
        if quiet and self._answer_owed:
            self._answer_owed = False
            self.responding.answer(self.turn, TurnTiming(now), now)
            quiet = False
        if quiet and self._queued and not self.lifecycle.closing:
            self._say(self._queued.next(), now)
            quiet = False
        self.lifecycle.settle(quiet, now)

    # AgentSide: what hearing asks of the rest -------------------------------------------------

    def busy(self) -> bool:
        return self.responding.current is not None

    def interruptible(self) -> bool:
        current = self.responding.current
        return current is None or not current.uninterruptible

    def barge_in(
        self, now: float, resolved: BargeIn | None = None, *, withdraw: bool = False
    ) -> bool:
        if not self.interruptible():
            return False
        heard = self.responding.cancel(now, resolved, withdrawn=withdraw)
        if withdraw:
            withdraw_searches(self.history)
            self._answer_owed = True  # by the caller's turn, continued, or `_settle`
        return heard

    def continues_turn(self, onset: float) -> bool:
        taking = self.hearing.turn_taking
        return (
            taking.answer
            and taking.auto_end
            and can_continue(self.responding.current, self.history, self.turn, onset)
        )

    def hold(self, now: float) -> float | None:
        return holding.hold(self.responding, now) if self.interruptible() else None

    def resume(self, now: float, resolved: BargeIn) -> None:
        holding.resume(self.responding, now, resolved)

    def held_turn(self) -> int:
        current = self.responding.current
        return current.turn if current is not None else self.turn

    def caller_active(self) -> None:
        self.lifecycle.caller_active(self.responding.current)

    def next_turn(self) -> int:
        return self.turn + 1

    def user_turn(
        self,
        text: str,
        timing: TurnTiming,
        now: float,
        medium: Medium = "voice",
        *,
        answer: bool = True,
        continues: bool = False,
    ) -> None:
        self.caller_active()
        barge_in = self.hearing.turn_taking.barge_in
        if answer and barge_in and self.interruptible() and self.responding.cancel(now):
            self.out.emit(Interrupted())
        if continues and extend_turn(self.history, text):
            self._save_user(text, medium)  # the same turn, gone on
        elif self.turn >= self.plan.max_turns:
            self.end("max_turns")  # the cap is the engine's: a turn past it is not answered
            return
        else:
            self._record_user(text, medium)
        if not answer:  # it joins the conversation; a `Respond` answers it
            if self.responding.current is None:
                self.status.set_state("listening")
            return
        if self.responding.current is None:
            self._answer_owed = False  # this answer covers everything said so far
            self.responding.answer(self.turn, timing, now)
        else:
            self._answer_owed = True  # the agent may not be interrupted: answer after it

    def _record_user(self, text: str, medium: Medium) -> None:
        self.turn += 1
        self.history.add(Said("user", text))
        self._save_user(text, medium)

    def _save_user(self, text: str, medium: Medium) -> None:
        self.out.save(Record(self.status.next_seq(), "user", text, turn=self.turn, medium=medium))
        self.out.emit(Transcript("user", text, final=True, turn=self.turn, medium=medium))

    # Commands --------------------------------------------------------------------------

    def _open(self, event: Open, now: float) -> None:
        self.out.emit(Ready())  # the engine takes audio from now on
        if not self.lifecycle.open(now):
            self.opening(now)
        if self.responding.current is None:
            self.status.set_state("listening")

    def opening(self, now: float) -> None:
        opening = self.plan.opening
        firm = self.plan.lifecycle.opening_uninterruptible
        if opening.kind == "say" and opening.text:
            self.responding.say(0, opening.text, TurnTiming(now), uninterruptible=firm)
        elif opening.kind == "user" and opening.text:
            self.user_turn(opening.text, TurnTiming(now), now, "text")
        elif opening.kind == "context":
            extra = opening.text or None
            self.responding.answer(0, TurnTiming(now), now, extra, uninterruptible=firm)

    def _typed(self, event: UserText, now: float) -> None:
        if event.respond == "now":
            self.user_turn(event.text, TurnTiming(now), now, "text")
            return
        self.caller_active()
        if self.turn >= self.plan.max_turns:
            self.end("max_turns")
            return
        self._record_user(event.text, "text")
        if event.respond == "after":
            self._answer_owed = True  # answered by `_settle` once all is quiet

    def _respond(self, event: Respond, now: float) -> None:
        """Answer now; after a response that only plays out what it has said, or a caller
        turn still being recognised (a client's commit), answer once that is done."""
        current = self.responding.current
        if (current is not None and not current.settled) or self._owed_respond is not None:
            self.out.emit(Notice("response_active", "a response is already in progress"))
            return
        if current is not None or self.hearing.caller_mid_turn:
            self._owed_respond = event
            return
        self._start_respond(event, now)

    def _start_respond(self, event: Respond, now: float) -> None:
        if not event.out_of_band:
            self._answer_owed = False  # this answer covers everything said so far
        self.responding.answer(
            self.turn,
            TurnTiming(now),
            now,
            instructions=event.instructions,
            out_of_band=event.out_of_band,
            tools=event.tools,
        )

    def _remember(self, event: Remember, now: float) -> None:
        self.history.add(Said(event.role, event.text))
        if event.role == "agent":  # part of the conversation, as written
            record = Record(self.status.next_seq(), "agent", event.text, self.turn, medium="text")
            self.out.save(record)

    def _forget(self, event: Forget, now: float) -> None:
        found = self.history.forget(event.role, event.text, event.call_id)
        self.out.emit(Forgotten(event.key, found))

    def _interrupt(self, event: Interrupt, now: float) -> None:
        self._owed_respond = None  # a response asked for and not yet begun is cancelled too
        if not self.interruptible():
            return  # a closing line or a firm greeting is said to the end
        if self.responding.cancel(now):
            self.out.emit(Interrupted())
        self.status.set_state("listening")

    def _say_as_agent(self, event: SayAsAgent, now: float) -> None:
        busy = self.responding.current is not None
        if event.urgency == "immediate" or not (busy or self.hearing.utterance):
            if self.interruptible() and self.responding.cancel(now):
                self.out.emit(Interrupted())
            if self.responding.current is None:
                self._say(event, now)
                return
        if event.urgency == "refuse":
            self.out.emit(InjectionRefused(event.text, "agent_speech" if busy else "user_speech"))
        elif (refused := self._queued.offer(event)) is not None:
            self.out.emit(refused)

    def _say(self, event: SayAsAgent, now: float) -> None:
        self.out.disarm("opening", 0)  # the agent has spoken first: no greeting after it
        self.responding.say(
            self.turn,
            event.text,
            TurnTiming(now),
            uninterruptible=event.uninterruptible,
            ends_with=event.then_end,
        )

    def _output_medium(self, event: SetOutputMedium, now: float) -> None:
        self.responding.text_only = event.text

    def _reconfigure(self, change: Reconfigure, now: float) -> None:
        """The prompt and tools are the core's; the shell swaps the providers."""
        if change.system_prompt is not None:
            self.status.system_prompt = change.system_prompt
        if change.tools is not None:
            self.desk.catalogue = change.tools

    # Lifecycle --------------------------------------------------------------------------

    def response_finished(self, response: Response) -> None:
        self.lifecycle.response_finished(response)
        if response.ends_with is not None:
            self.transfer_to = self.transfer_to or response.transfer_to
            self.end(response.ends_with)
        elif response.turn >= self.plan.max_turns and not self._answer_owed:
            self.end("max_turns")

    def end(self, reason: EndReason) -> None:
        if self.ending is None:
            self.ending = reason
            self.out.add(EndSession(reason))

    def _close(self, event: Close, now: float) -> None:
        self.ending = self.ending or event.reason
        for cancel in self.out.timers.clear():
            self.out.add(cancel)
        self.responding.cancel(now)
        self.desk.close()
        self.hearing.close(now)
        self.status.set_state("idle")
        transfer_to = self.transfer_to if event.reason == "transfer" else None
        self.out.emit(Ended(event.reason, self.history.transcript(), transfer_to))


# Handlers by event type, as plain functions of (core, event, now): a table of bound methods
# on each core would be a reference cycle per session.
_HANDLERS: dict[type, Callable[[SessionCore, Any, float], None]] = {
    HeardFrames: lambda core, event, now: core.hearing.frames(event, now),
    TimerFired: timer_routes.fired,
    Transcription: lambda core, event, now: core.hearing.transcription(event, now),
    TurnCheck: lambda core, event, now: end_of_turn.answered(core.hearing, event, now),
    ServerToolDone: tool_answers.server_done,
    PlaybackProgress: lambda core, event, now: core.responding.speaker.acknowledge(
        event.played_ms, now
    ),
    UserText: SessionCore._typed,
    KeyPress: keypad.pressed,
    Interrupt: SessionCore._interrupt,
    ToolResult: tool_answers.client_result,
    Stop: lambda core, event, now: core.end(event.reason),
    Disconnected: lambda core, event, now: core.end("disconnect"),
    RecognitionFailed: lambda core, event, now: core.hearing.recognition_failed(event, now),
    SayAsAgent: SessionCore._say_as_agent,
    SetOutputMedium: SessionCore._output_medium,
    Reconfigure: SessionCore._reconfigure,
    Respond: SessionCore._respond,
    Remember: SessionCore._remember,
    Forget: SessionCore._forget,
    EndTurn: lambda core, event, now: core.hearing.commit(now),
    DropTurn: lambda core, event, now: core.hearing.discard(now),
    TurnTaking: lambda core, event, now: core.hearing.configure(event, now),
    Open: SessionCore._open,
    Close: SessionCore._close,
    **{
        kind: lambda core, event, now: core.responding.handle(event, now)
        for kind in RESPONSE_EVENTS
    },
}
