"""The conversation shell: one task per session that feeds the core and carries its effects.

Every decision is the `SessionCore`'s (`engine/core.py`); this is the I/O around it. One
actor task reads two queues: control (every client command but audio: interrupt, stop,
hang-up, agent deletion, typed turns, tool results …) ahead of everything else (caller
audio, VAD results, provider events, timer firings), so a backlog of audio never delays a
`stop`. Provider work runs in child tasks and threads that only post into the inbox; the
actor never blocks on them.

Effects map to I/O one to one: timers become `loop.call_at` handles that post a
`TimerFired` (the core drops stale ones by generation), responses get a `ResponseWork`
(model rounds, speech stream), server-side tools a task, transcript rows the writer.
Every task has an owner here and is cancelled when the conversation closes.

A `CallRecorder`, when the session records, hears both sides here: caller audio as it
enters the actor, agent audio as it leaves, and the cut at each `Interrupted`; it is
written out (in a thread) once the conversation has closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from parley.audio.recording import CallRecorder
from parley.engine.core import Close, Open, SessionCore
from parley.engine.effects import (
    AbandonRecognition,
    AskModel,
    BeginRecognition,
    CheckTurn,
    CloseResponse,
    Effect,
    Emit,
    EndSession,
    EndSpeech,
    FinishRecognition,
    PauseRecognition,
    ResumeRecognition,
    RunTool,
    Save,
    Speak,
    StartSpeech,
)
from parley.engine.end_of_turn import TurnCheck
from parley.engine.events import (
    AgentAudio,
    AgentPaused,
    Command,
    DropTurn,
    Ended,
    EndReason,
    EndTurn,
    Event,
    Failure,
    Interrupt,
    Interrupted,
    Reconfigure,
    Respond,
    UserAudio,
)
from parley.engine.hearing import HeardFrames, RecognitionFailed
from parley.engine.listening import Listener
from parley.engine.mailbox import Mailbox
from parley.engine.plan import Plan, Voice
from parley.engine.side_tasks import ask_turn_model, run_server_tool
from parley.engine.timers import ArmTimer, CancelTimer, TimerFired, TimerKey, TimerKind
from parley.engine.tools import ServerToolRunner
from parley.engine.transcript import TranscriptStore, TranscriptWriter
from parley.engine.vad_lag import LagGate
from parley.engine.work import ResponseWork
from parley.providers.base import RECOGNITION_RATE, RecognitionListener, Transcription

log = logging.getLogger("parley.engine")

BACKLOG_HIGH = 400
BACKLOG_LOW = 100


class _HeardMore:
    """VAD results are waiting in the listener (posted once per batch)."""


_HEARD_MORE = _HeardMore()
_WAKE = object()  # a control command is waiting


class _Failed:
    """A step taken outside the actor's loop failed: the actor raises it as its own."""

    def __init__(self, error: Exception) -> None:
        self.error = error


class _Posting(RecognitionListener):
    """What the recogniser reports to: the inbox, not the conversation (no cycle through
    the recogniser back to its owner)."""

    def __init__(self, post: Callable[[object], None]) -> None:
        self._post = post

    def on_transcription(self, result: Transcription) -> None:
        self._post(result)

    def on_recognition_error(self, utterance: int, error: Exception) -> None:
        self._post(RecognitionFailed(utterance, error))


class Conversation:
    def __init__(
        self,
        plan: Plan,
        voice: Voice,
        transcript: TranscriptStore,
        emit: Callable[[Event], None],
        server_tools: ServerToolRunner | None = None,
        recorder: CallRecorder | None = None,
    ) -> None:
        self.plan = plan
        self.recorder = recorder
        self.voice = voice
        self._store = transcript
        self._emit = emit
        self._server_tools = server_tools
        self._inbox: Mailbox[object] = Mailbox()
        self._control: deque[Command] = deque()
        self._held: object | None = None  # taken from the inbox, waiting behind control
        self._in_step = False  # a step taken in place (`_step_now`) is under way
        self._lag_gate = LagGate()
        self._context = contextvars.Context()  # the actor's, once it runs
        self._drained = asyncio.Event()
        self._drained.set()
        self._ending: EndReason | None = None
        self._loop = asyncio.get_running_loop()
        self._timers: dict[tuple[TimerKind, TimerKey], asyncio.TimerHandle] = {}
        self._work: dict[int, ResponseWork] = {}
        self._tools: set[asyncio.Task[None]] = set()  # server-side tool calls
        self._closing: set[asyncio.Task[None]] = set()  # responses being cancelled
        self._checks: set[asyncio.Task[None]] = set()  # end-of-turn model questions
        self.core = SessionCore(
            plan,
            vad_frame_ms=voice.vad.frame_samples * 1000 / RECOGNITION_RATE,
            vad_trailing_frames=voice.vad.trailing_frames,
            turn_model=voice.turn_model is not None,
        )

    # The dialect's side -----------------------------------------------------------------------

    def submit(self, command: Command) -> None:
        """Hand a command to the actor (never blocks). Control goes ahead of audio; a
        client's turn-taking (commit, clear, respond, interrupt) stays in order with the
        audio before it, so a commit covers what was sent and a respond follows it."""
        if isinstance(command, UserAudio):
            if self._parked:
                self._step_now(command)
                return
            self._inbox.put(command)
            if len(self._inbox) > BACKLOG_HIGH:
                self._drained.clear()
        elif isinstance(command, EndTurn | DropTurn | Respond | Interrupt):  # in order
            self._inbox.put(command)
        else:
            self._control.append(command)
            self._inbox.put(_WAKE)

    @property
    def accepting(self) -> bool:
        """`deliver` would not wait: `submit` now is the same as delivering."""
        return self._drained.is_set()

    async def deliver(self, command: Command) -> None:
        """Hand a command over, waiting first if the actor is far behind (backpressure)."""
        if not self._drained.is_set():
            await self._drained.wait()
        self.submit(command)

    @property
    def _parked(self) -> bool:
        """The actor waits on an empty inbox, with nothing held or queued ahead."""
        return self._inbox.idle and not self._control and self._held is None and not self._in_step

    def _heard_more(self) -> None:
        """The VAD has answered (from the VAD's reader, for every session it serves)."""
        if self._parked:
            self._step_now(_HEARD_MORE)
        else:
            self._inbox.put(_HEARD_MORE)

    def _step_now(self, item: UserAudio | object) -> None:
        """The actor is `_parked`, so nothing is ahead of `item`: take the step it would
        take, now, in the caller's task (caller audio) or the VAD's reader (its answers).
        The step is the same `_step` (the one place state changes) in the same order;
        only the hop is saved, a task wake-up per caller frame and per VAD answer (5,000
        and 3,000 a second at 100 callers). It runs in the actor's context variables (the
        session's log fields), not the caller's. What the run loop must see afterwards (an
        ending, a failure) is posted to it."""
        self._in_step = True  # what the step sets off is posted, never stepped inside it
        try:
            self._context.run(self._step, item)  # as the actor would: its log fields too
        except Exception as exc:
            self._inbox.put(_Failed(exc))
            return
        finally:
            self._in_step = False
        if self._ending is not None:
            self._inbox.put(_WAKE)

    # The actor --------------------------------------------------------------------------

    async def run(self) -> EndReason:
        self._context = contextvars.copy_context()
        self._writer = TranscriptWriter(self._store)
        self._listener = Listener(
            source=self.plan.input_format,
            vad=self.voice.vad,
            recognizer=self.voice.recognizer(_Posting(self._inbox.put)),
            results_ready=self._heard_more,
            keep_samples=self.voice.turn_model.window_samples if self.voice.turn_model else 0,
        )
        self._llm, self._tts = self.voice.llm, self.voice.tts
        reason: EndReason = "error"
        try:
            self._carry(self.core.handle(Open(), self._loop.time()))
            while self._ending is None:
                item = await self._next()
                if item is not _WAKE:
                    self._step(item)
            reason = self._ending
        except asyncio.CancelledError:
            reason = self._ending or "disconnect"
            raise
        except Exception:
            log.exception("conversation failed")
            self._emit(Failure("internal_error", "the conversation failed unexpectedly", True))
        finally:
            self._drained.set()  # a dialect waiting to deliver must not wait for a dead actor
            await self._close(reason)
        return reason

    async def _next(self) -> object:
        if self._control:
            return self._control.popleft()
        if self._held is not None:
            item, self._held = self._held, None
            return item
        item = await self._inbox.get()
        if not self._drained.is_set() and len(self._inbox) < BACKLOG_LOW:
            self._drained.set()
        if self._control:  # arrived while waiting: control first, the item after it
            if item is not _WAKE:
                self._held = item
            return self._control.popleft()
        return item

    def _step(self, item: object) -> None:
        now = self._loop.time()
        if isinstance(item, _Failed):
            raise item.error
        if isinstance(item, UserAudio):
            if self.recorder is not None:
                self.recorder.caller(item.data, now)
            self._listener.audio(item.data, now)
            item = _HEARD_MORE  # a synchronous VAD has answered already
        if item is _HEARD_MORE:
            results = self._listener.take_results()
            if results:
                self._carry(self.core.handle(HeardFrames(results), now))
            if self._lag_gate.holding:  # the answers it waited for are in the core now
                for fired in self._lag_gate.release(self._listener.vad_owes_since(now), now):
                    self._carry(self.core.handle(fired, now))
            return
        if isinstance(item, TimerFired) and not self._lag_gate.admit(
            item, self._listener.vad_owes_since(now), now
        ):
            return  # a silence timer waits for the VAD's answers (engine/vad_lag.py)
        if isinstance(item, Reconfigure):
            self._swap_providers(item)
        self._carry(self.core.handle(item, now))

    def _swap_providers(self, change: Reconfigure) -> None:
        if change.llm is not None:
            self._llm = change.llm
        if change.tts is not None:
            self._tts = change.tts

    # Effects --------------------------------------------------------------------------

    def _carry(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Emit):
                if self.recorder is not None:
                    self._record(effect.event)
                self._emit(effect.event)
            elif isinstance(effect, ArmTimer):
                self._arm(effect)
            elif isinstance(effect, CancelTimer):
                handle = self._timers.pop((effect.kind, effect.key), None)
                if handle is not None:
                    handle.cancel()
            elif isinstance(effect, Save):
                self._writer.save(effect.record)
            elif isinstance(effect, Speak):
                if (work := self._work.get(effect.response)) is not None:
                    work.speak(effect.sentence)
            elif isinstance(effect, AskModel):
                if (work := self._work.get(effect.response)) is not None:
                    work.ask(self._llm, effect.request)
            elif isinstance(effect, StartSpeech):
                self._work[effect.response] = ResponseWork(
                    effect.response, self._tts, self._inbox.put
                )
            elif isinstance(effect, EndSpeech):
                if (work := self._work.get(effect.response)) is not None:
                    work.end_speech()
            elif isinstance(effect, CloseResponse):
                if (work := self._work.pop(effect.response, None)) is not None:
                    self._own(self._closing, work.cancel(), f"close-{effect.response}")
            elif isinstance(effect, BeginRecognition):
                self._listener.begin(effect.utterance, effect.expect)
            elif isinstance(effect, FinishRecognition):
                self._listener.finish(effect.utterance)
            elif isinstance(effect, PauseRecognition):
                self._listener.pause(effect.utterance)
            elif isinstance(effect, ResumeRecognition):
                self._listener.resume(effect.utterance)
            elif isinstance(effect, AbandonRecognition):
                self._listener.abandon(effect.utterance)
            elif isinstance(effect, CheckTurn):
                self._check_turn(effect)
            elif isinstance(effect, RunTool):
                self._run_tool(effect)
            elif isinstance(effect, EndSession):
                self._ending = effect.reason

    async def _finish_recording(self) -> None:
        if self.recorder is None:
            return
        try:
            await asyncio.to_thread(self.recorder.finish)
        except Exception:
            log.exception("the recording %s could not be written", self.recorder.path)

    def _record(self, event: Event) -> None:
        assert self.recorder is not None
        if isinstance(event, AgentAudio):
            self.recorder.agent(event.data, self._loop.time())
        elif isinstance(event, Interrupted) or (
            isinstance(event, AgentPaused) and self.plan.pause_clears
        ):
            self.recorder.cut(self._loop.time())  # what was sent after this never played

    def _arm(self, timer: ArmTimer) -> None:
        key = (timer.kind, timer.key)
        if (earlier := self._timers.pop(key, None)) is not None:
            earlier.cancel()
        fired = TimerFired(timer.kind, timer.key, timer.generation)
        self._timers[key] = self._loop.call_at(timer.at, self._fire, key, fired)

    def _fire(self, key: tuple[TimerKind, TimerKey], fired: TimerFired) -> None:
        self._timers.pop(key, None)
        self._inbox.put(fired)

    def _check_turn(self, effect: CheckTurn) -> None:
        model = self.voice.turn_model
        if model is None:
            self._inbox.put(TurnCheck(effect.utterance, effect.check, None))
            return
        audio = self._listener.recent(model.window_samples)
        name = f"turn-check-{effect.utterance}-{effect.check}"
        self._own(self._checks, self._posted(ask_turn_model(model, audio, effect)), name)

    def _run_tool(self, effect: RunTool) -> None:
        running = run_server_tool(self._server_tools, effect)
        self._own(self._tools, self._posted(running), f"tool-{effect.call_id}")

    async def _posted(self, work: Awaitable[object]) -> None:
        """Side work's outcome (an event; it never raises), posted to the actor."""
        self._inbox.put(await work)

    @staticmethod
    def _own(
        owner: set[asyncio.Task[None]], coroutine: Coroutine[Any, Any, None], name: str
    ) -> None:
        task = asyncio.create_task(coroutine, name=name)
        owner.add(task)
        task.add_done_callback(owner.discard)

    # Closing --------------------------------------------------------------------------

    async def _close(self, reason: EndReason) -> None:
        ended: Ended | None = None
        try:
            for effect in self.core.handle(Close(reason), self._loop.time()):
                if isinstance(effect, Emit) and isinstance(effect.event, Ended):
                    ended = effect.event  # said last, once the transcript is stored
                else:
                    self._carry([effect])
            for handle in self._timers.values():
                handle.cancel()
            self._timers.clear()
            for work in self._work.values():
                self._own(self._closing, work.cancel(), f"close-{work.response}")
            self._work.clear()
            for task in [*self._tools, *self._checks]:
                task.cancel()
            for task in [*self._tools, *self._checks, *self._closing]:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.voice.vad.close()
            await self._listener.recognizer.aclose()
        except Exception:
            log.exception("error while closing the conversation")
        finally:
            self._listener.let_go()
            await self._finish_recording()
            await self._writer.close(reason)
            self._emit(ended or Ended(reason, self.core.history.transcript()))
