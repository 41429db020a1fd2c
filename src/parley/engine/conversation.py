"""The conversation actor: one task per session, the only code that changes its state.

Everything that happens to a session arrives in one inbox, in order: client commands, VAD
results, transcripts, model text, synthesised audio, tool results and alarms. Provider work
runs in child tasks and threads that only post into the inbox; handlers never block.

Turn-taking: speech onset opens an utterance; while the agent is thinking or speaking, it
becomes a barge-in only once it has lasted `min_interruption_ms` (shorter sounds over the
agent are ignored). Silence of `endpoint_ms` after speech ends the turn; the final transcript
is awaited (bounded), then the agent answers. `max_turns` answered turns end the session.
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
    UserStartedSpeaking,
    UserText,
)
from parley.engine.history import History, Said
from parley.engine.listening import Listener, Utterance, VadOutcome
from parley.engine.plan import Plan, Voice
from parley.engine.responder import Responder
from parley.engine.response import Response, TurnTiming
from parley.engine.speaking import Speaker
from parley.engine.tooldesk import DispatchedCall, ServerToolDone, ToolDesk
from parley.engine.tools import ServerToolRunner
from parley.engine.transcript import Record, TranscriptStore, TranscriptWriter
from parley.engine.turns import SilenceStarted, SpeechResumed, SpeechStarted
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
        elif isinstance(item, VadOutcome):
            await self._vad(item, now)
        elif isinstance(item, Alarm):
            await self._alarm(item, now)
        elif isinstance(item, Transcription):
            await self._transcription(item, now)
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
            self._recognition_failed(item)
        elif isinstance(item, SayAsAgent):
            self._say_as_agent(item.text, now)
        elif isinstance(item, Reconfigure):
            self._reconfigure(item)
        else:
            self._responder.handle(item, now)  # type: ignore[arg-type]

    # The caller's turns -------------------------------------------------------------------------

    async def _vad(self, outcome: VadOutcome, now: float) -> None:
        signal = self._listener.vad_outcome(outcome)
        utterance = self._listener.utterance
        if isinstance(signal, SpeechStarted):
            busy = self._responder.current is not None
            utterance = self._listener.begin(signal.at, interrupting=busy)
            if not busy:
                self._emit(UserStartedSpeaking())
                self._set_state("listening")
                return
            barge_at = signal.at + self.plan.vad.min_interruption_ms / 1000
            if barge_at <= now:
                await self._barge_in(utterance, now)
            else:
                self._alarms.set("barge_in", utterance.id, barge_at)
        elif isinstance(signal, SilenceStarted) and utterance is not None:
            utterance.ended_at = signal.at
            at = signal.at + self.plan.vad.endpoint_ms / 1000
            self._alarms.set("endpoint", utterance.id, at)
        elif isinstance(signal, SpeechResumed) and utterance is not None:
            utterance.ended_at = None
            self._alarms.cancel("endpoint", utterance.id)

    async def _barge_in(self, utterance: Utterance, now: float) -> None:
        utterance.confirmed = True
        self._emit(UserStartedSpeaking())
        if await self._responder.cancel(now):
            self._emit(Interrupted())
        self._set_state("listening")

    async def _interrupt(self, now: float) -> None:
        if await self._responder.cancel(now):
            self._emit(Interrupted())
        self._set_state("listening")

    def _end_of_turn(self, utterance_id: int, now: float) -> None:
        utterance = self._listener.utterance
        if utterance is None or utterance.id != utterance_id:
            return
        if self._listener.end_of_turn(now) is None:
            if self._responder.current is None:
                self._set_state("listening")
            return
        self._alarms.set("recognition", utterance.id, now + self.plan.recognition_timeout_s)
        if self._responder.current is None:
            self._set_state("thinking")

    async def _transcription(self, result: Transcription, now: float) -> None:
        utterance = self._listener.utterance
        if utterance is None or utterance.id != result.utterance:
            return
        if not result.final:
            utterance.partial = result.text
            self._emit(Transcript("user", result.text, final=False, turn=self.turn + 1))
            return
        if utterance.endpoint_at is None:
            return  # a final before the endpoint (a streaming provider's own): wait for ours
        self._alarms.cancel("recognition", utterance.id)
        utterance.final_text = result.text
        self._listener.utterance = None
        text = result.text.strip()
        if not text:
            self._set_state("listening")
            return
        ended = utterance.ended_at if utterance.ended_at is not None else utterance.endpoint_at
        timing = TurnTiming(
            turn_end=ended,
            endpoint_ms=round((utterance.endpoint_at - ended) * 1000, 1),
            stt_ms=round((now - utterance.endpoint_at) * 1000, 1),
        )
        await self._user_turn(text, timing)

    def _recognition_failed(self, failure: _RecognitionFailed) -> None:
        utterance = self._listener.utterance
        if utterance is not None and utterance.id == failure.utterance:
            self._alarms.cancel("recognition", utterance.id)
            self._listener.utterance = None
        self._emit(Failure("stt_error", f"speech recognition failed: {failure.error}", False))
        if self._responder.current is None:
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
        key = alarm.key
        if alarm.kind == "pace":
            self._responder.pace(now)
        elif alarm.kind == "played_out":
            assert isinstance(key, int)
            self._responder.played_out(key, now)
        elif alarm.kind == "endpoint":
            assert isinstance(key, int)
            self._end_of_turn(key, now)
        elif alarm.kind == "barge_in":
            utterance = self._listener.utterance
            detector = self._listener.detector
            if (
                utterance is not None
                and utterance.id == key
                and detector.speaking
                and not detector.in_silence
            ):
                await self._barge_in(utterance, now)
        elif alarm.kind == "recognition":
            utterance = self._listener.utterance
            if utterance is not None and utterance.id == key:
                log.warning("no transcript for utterance %s in time; dropping the turn", key)
                self._listener.drop()
                self._emit(
                    Failure("stt_timeout", "speech recognition did not answer in time", False)
                )
                if self._responder.current is None:
                    self._set_state("listening")
        elif alarm.kind == "tool_timeout":
            assert isinstance(key, str)
            self._tool_done(self._desk.timed_out(key), now)

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
