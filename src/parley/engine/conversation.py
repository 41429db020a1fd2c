"""The conversation actor: one task per session, the only code that changes its state.

Everything that happens to a session arrives in one inbox, in order: client commands, VAD
results, transcripts, model text, synthesised audio, tool results and alarms. Provider work
runs in child tasks and threads that only post into the inbox; handlers never block.

The actor routes: the caller's side of turn-taking to `TurnTaking`, the agent's responses to
`Responder`, tool calls to `ToolDesk`. It owns the turn count, the history, the transcript
and the session's lifecycle; `max_turns` answered turns end the session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from parley.engine.alarms import Alarm, Alarms
from parley.engine.events import (
    Command,
    Disconnected,
    Ended,
    EndReason,
    Event,
    Failure,
    InjectionRefused,
    Interrupt,
    Interrupted,
    Notice,
    PlaybackProgress,
    Ready,
    Reconfigure,
    SayAsAgent,
    State,
    StateChanged,
    Stop,
    ToolResult,
    Transcript,
    UserAudio,
    UserText,
)
from parley.engine.history import History, Said
from parley.engine.listening import Listener
from parley.engine.plan import Plan, Voice
from parley.engine.responder import Responder
from parley.engine.response import Response, TurnTiming
from parley.engine.speaking import Speaker
from parley.engine.tooldesk import DispatchedCall, ServerToolDone, ToolDesk
from parley.engine.tools import ServerToolRunner
from parley.engine.transcript import Record, TranscriptStore, TranscriptWriter
from parley.engine.turns import SilenceStarted, SpeechResumed, SpeechStarted
from parley.engine.turntaking import TurnTaking
from parley.providers.base import RecognitionListener, Transcription

log = logging.getLogger("parley.engine")

BACKLOG_HIGH = 400
BACKLOG_LOW = 100


class _RecognitionFailed:
    def __init__(self, utterance: int, error: Exception) -> None:
        self.utterance = utterance
        self.error = error


class Conversation(RecognitionListener):
    def __init__(
        self,
        plan: Plan,
        voice: Voice,
        transcript: TranscriptStore,
        emit: Callable[[Event], None],
        server_tools: ServerToolRunner | None = None,
    ) -> None:
        self.plan = plan
        self.voice = voice
        self.state: State = "idle"
        self.turn = 0
        self.system_prompt = plan.system_prompt
        self._store = transcript
        self._emit = emit
        self._server_tools = server_tools
        self._inbox: asyncio.Queue[object] = asyncio.Queue()
        self._drained = asyncio.Event()
        self._drained.set()
        self._ending: EndReason | None = None
        self._loop = asyncio.get_running_loop()
        self.history = History(plan.history)

    # The dialect's side -------------------------------------------------------------------------

    def submit(self, command: Command) -> None:
        """Hand a command to the actor (never blocks)."""
        self._inbox.put_nowait(command)
        if self._inbox.qsize() > BACKLOG_HIGH:
            self._drained.clear()

    async def deliver(self, command: Command) -> None:
        """Hand a command over, waiting first if the actor is far behind (backpressure)."""
        await self._drained.wait()
        self.submit(command)

    # Recognition callbacks (on the loop) ------------------------------------------------------

    def on_transcription(self, result: Transcription) -> None:
        self._inbox.put_nowait(result)

    def on_recognition_error(self, utterance: int, error: Exception) -> None:
        self._inbox.put_nowait(_RecognitionFailed(utterance, error))

    # The actor ------------------------------------------------------------------------------------

    async def run(self) -> EndReason:
        self._alarms = Alarms(self._inbox.put_nowait)
        self._writer = TranscriptWriter(self._store)
        self._listener = Listener(
            source=self.plan.input_format,
            vad=self.voice.vad,
            recognizer=self.voice.recognizer(self),
            settings=self.plan.vad,
            post=self._inbox.put_nowait,
        )
        self._desk = ToolDesk(
            catalogue=self.plan.tools,
            runner=self._server_tools,
            history=self.history,
            writer=self._writer,
            alarms=self._alarms,
            emit=self._emit,
            post=self._inbox.put_nowait,
            clock=self._loop.time,
            client_timeout_s=self.plan.client_tool_timeout_s,
            server_timeout_s=self.plan.server_tool_timeout_s,
        )
        speaker = Speaker(
            self.plan.output_format,
            frame_ms=self.plan.frame_ms,
            lead_ms=self.plan.lead_ms,
            emit=self._emit,
        )
        self._responder = Responder(
            plan=self.plan,
            llm=self.voice.llm,
            tts=self.voice.tts,
            speaker=speaker,
            desk=self._desk,
            history=self.history,
            writer=self._writer,
            alarms=self._alarms,
            emit=self._emit,
            post=self._inbox.put_nowait,
            set_state=self._set_state,
            on_finished=self._response_finished,
            system_prompt=lambda: self.system_prompt,
        )
        self._turns = TurnTaking(
            plan=self.plan,
            listener=self._listener,
            responder=self._responder,
            alarms=self._alarms,
            emit=self._emit,
            set_state=self._set_state,
            user_turn=self._user_turn,
            next_turn=lambda: self.turn + 1,
        )
        reason: EndReason = "error"
        try:
            self._emit(Ready())
            await self._open()
            while self._ending is None:
                item = await self._inbox.get()
                if not self._drained.is_set() and self._inbox.qsize() < BACKLOG_LOW:
                    self._drained.set()
                await self._handle(item)
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

    async def _open(self) -> None:
        opening, now = self.plan.opening, self._loop.time()
        if opening.kind == "say" and opening.text:
            self._responder.say(0, opening.text, TurnTiming(now))
        elif opening.kind == "user" and opening.text:
            await self._user_turn(opening.text, TurnTiming(now))
        elif opening.kind == "context" and opening.text:
            self._responder.answer(0, TurnTiming(now), now, extra_user=opening.text)
        else:
            self._set_state("listening")

    async def _handle(self, item: object) -> None:
        now = self._loop.time()
        if isinstance(item, UserAudio):
            self._listener.audio(item.data, now)
        elif isinstance(item, SpeechStarted | SilenceStarted | SpeechResumed):
            await self._turns.vad(item, now)
        elif isinstance(item, Alarm):
            await self._alarm(item, now)
        elif isinstance(item, Transcription):
            await self._turns.transcription(item, now)
        elif isinstance(item, ServerToolDone):
            self._tool_done(self._desk.resolve(item.call_id, item.result, failed=item.failed), now)
        elif isinstance(item, UserText):
            await self._user_turn(item.text, TurnTiming(now))
        elif isinstance(item, Interrupt):
            await self._interrupt(now)
        elif isinstance(item, ToolResult):
            self._client_tool_result(item, now)
        elif isinstance(item, PlaybackProgress):
            self._responder.speaker.acknowledge(item.played_ms, now)
        elif isinstance(item, Stop):
            self._ending = item.reason
        elif isinstance(item, Disconnected):
            self._ending = "disconnect"
        elif isinstance(item, _RecognitionFailed):
            self._turns.recognition_failed(item.utterance, item.error)
        elif isinstance(item, SayAsAgent):
            self._say_as_agent(item.text, now)
        elif isinstance(item, Reconfigure):
            self._reconfigure(item)
        else:
            self._responder.handle(item, now)  # type: ignore[arg-type]

    async def _interrupt(self, now: float) -> None:
        if await self._responder.cancel(now):
            self._emit(Interrupted())
        self._set_state("listening")

    async def _user_turn(self, text: str, timing: TurnTiming) -> None:
        now = self._loop.time()
        if await self._responder.cancel(now):
            self._emit(Interrupted())
        self.turn += 1
        self.history.add(Said("user", text))
        self._writer.save(Record(self._writer.next_seq(), "user", text, turn=self.turn))
        self._emit(Transcript("user", text, final=True, turn=self.turn))
        self._responder.answer(self.turn, timing, now)

    # Tools, alarms, completion ------------------------------------------------------------------

    def _client_tool_result(self, result: ToolResult, now: float) -> None:
        call = self._desk.resolve(
            result.call_id, result.result, failed=result.is_error, from_client=True
        )
        if call is None:
            self._emit(
                Notice(
                    "unknown_tool_call",
                    f"no client tool call {result.call_id!r} is waiting for a result",
                )
            )
            return
        self._tool_done(call, now)

    def _tool_done(self, call: DispatchedCall | None, now: float) -> None:
        if call is None:
            return
        group = call.invocation.group
        if not self._desk.outstanding(call.response, group):
            self._responder.tools_settled(call.response, group, now)

    async def _alarm(self, alarm: Alarm, now: float) -> None:
        key, kind = alarm.key, alarm.kind
        if kind == "pace":
            self._responder.pace(now)
        elif kind == "tool_timeout":
            assert isinstance(key, str)
            self._tool_done(self._desk.timed_out(key), now)
            return
        assert isinstance(key, int)
        if kind == "played_out":
            self._responder.played_out(key, now)
        elif kind == "endpoint":
            self._turns.end_of_turn(key, now)
        elif kind == "barge_in":
            await self._turns.barge_in_due(key, now)
        elif kind == "recognition":
            self._turns.recognition_overdue(key)

    def _say_as_agent(self, text: str, now: float) -> None:
        if self._responder.current is not None:
            self._emit(InjectionRefused(text, "agent_speech"))
        elif self._listener.utterance is not None:
            self._emit(InjectionRefused(text, "user_speech"))
        else:
            self._responder.say(self.turn, text, TurnTiming(now))

    def _reconfigure(self, change: Reconfigure) -> None:
        if change.system_prompt is not None:
            self.system_prompt = change.system_prompt
        if change.llm is not None:
            self._responder.llm = change.llm
        if change.tts is not None:
            self._responder.tts = change.tts
        if change.tools is not None:
            self._desk.catalogue = change.tools

    def _response_finished(self, response: Response) -> None:
        if response.hang_up:
            self._ending = "agent_hangup"
        elif response.turn >= self.plan.max_turns:
            self._ending = "max_turns"

    def _set_state(self, state: State) -> None:
        if state != self.state:
            self.state = state
            self._emit(StateChanged(state))

    async def _close(self, reason: EndReason) -> None:
        self._alarms.cancel_all()
        now = self._loop.time()
        try:
            await self._responder.cancel(now)
            await self._desk.close()
            self._listener.drop()
            self.voice.vad.close()
            await self._listener.recognizer.aclose()
        except Exception:
            log.exception("error while closing the conversation")
        finally:
            await self._writer.close(reason)
            self._set_state("idle")
            self._emit(Ended(reason, self.history.transcript()))
