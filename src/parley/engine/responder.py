"""The agent's turn: from asking the model to the last sound the caller hears.

One response at a time. Text from the model is cut into sentences and spoken; audio is paced
out; tool calls end a model round, are dispatched, and their results start the next round.
A response completes when everything was said and the caller's player has played it out;
only then is the agent's utterance committed in full. A cancelled response (barge-in, a new
typed turn, the session ending) commits only what the caller heard.

Transcript rows are numbered when their place in the conversation is known (a round's text
before that round's tool calls), so they are stored in speaking order whenever written.
While the agent speaks, what the caller has heard so far is checkpointed to the transcript
(first after `FIRST_CHECKPOINT_MS` of playback, then every `CHECKPOINT_EVERY_MS`), marked
interrupted until the response completes: if the process dies mid-reply (kill -9), the
stored row holds what was heard, not nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from parley.engine.alarms import Alarms
from parley.engine.events import (
    AgentAudioDone,
    AgentStartedSpeaking,
    AgentThinking,
    Event,
    Failure,
    State,
    Transcript,
    TurnMetrics,
)
from parley.engine.history import History, Said
from parley.engine.plan import Plan
from parley.engine.response import (
    ModelDone,
    ModelFailed,
    ModelText,
    ModelToolCall,
    Response,
    ResponseEvent,
    Segment,
    SentenceSpoken,
    SentenceStarted,
    SpeechAudio,
    SpeechDone,
    SpeechFailed,
    TurnTiming,
)
from parley.engine.speaking import Speaker
from parley.engine.tooldesk import ToolDesk
from parley.engine.transcript import Record, TranscriptWriter
from parley.providers.base import ChatRequest, LanguageModel, SpeechSynthesizer

log = logging.getLogger("parley.engine")

FIRST_CHECKPOINT_MS = 2000.0  # shorter replies cost no extra write; a crash loses < 2 s
CHECKPOINT_EVERY_MS = 2000.0


def _ms(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else round((end - start) * 1000, 1)


class Responder:
    def __init__(
        self,
        *,
        plan: Plan,
        llm: LanguageModel,
        tts: SpeechSynthesizer,
        speaker: Speaker,
        desk: ToolDesk,
        history: History,
        writer: TranscriptWriter,
        alarms: Alarms,
        emit: Callable[[Event], None],
        post: Callable[[ResponseEvent], None],
        set_state: Callable[[State], None],
        on_finished: Callable[[Response], None],
        system_prompt: Callable[[], str],
    ) -> None:
        self.plan = plan
        self.llm = llm
        self.tts = tts
        self.speaker = speaker
        self.desk = desk
        self._history = history
        self._writer = writer
        self._alarms = alarms
        self._emit = emit
        self._post = post
        self._set_state = set_state
        self._on_finished = on_finished
        self._system_prompt = system_prompt
        self.current: Response | None = None
        self._ids = 0
        self._groups = 0

    # Starting ---------------------------------------------------------------------------------

    def answer(
        self, turn: int, timing: TurnTiming, now: float, extra_user: str | None = None
    ) -> None:
        """Ask the model to answer the conversation so far."""
        response = self._begin(turn, timing, scripted=False)
        self._ask(response, now, extra_user)

    def say(self, turn: int, text: str, timing: TurnTiming) -> None:
        """Speak `text` verbatim (greetings, scripted messages)."""
        response = self._begin(turn, timing, scripted=True)
        response.add_text(text)
        self.speaker.set_text(response.text)
        response.segments[-1].end = len(response.text)
        response.close_text()

    def _begin(self, turn: int, timing: TurnTiming, *, scripted: bool) -> Response:
        self._ids += 1
        response = Response(self._ids, turn, timing, scripted)
        response.checkpoint_due_ms = FIRST_CHECKPOINT_MS
        self._new_segment(response)
        self.speaker.begin()
        response.start_speech(self.tts, self._post)
        self.current = response
        self._set_state("thinking")
        return response

    def _new_segment(self, response: Response) -> None:
        self._groups += 1
        response.segments.append(Segment(self._writer.next_seq(), self._groups, len(response.text)))

    def _ask(self, response: Response, now: float, extra_user: str | None = None) -> None:
        if response.timing.model_asked is None:
            response.timing.model_asked = now
        request = ChatRequest(
            system_prompt=self._system_prompt(),
            turns=self._history.turns(extra_user),
            tools=self.desk.catalogue.specs(),
            allow_tools=response.rounds < self.plan.max_tool_rounds,
            temperature=self.plan.temperature,
            max_tokens=self.plan.max_tokens,
        )
        response.ask(self.llm, request, self._post)

    # Events from the response's tasks -----------------------------------------------------------

    def handle(self, event: ResponseEvent, now: float) -> None:
        response = self.current
        if response is None or event.response != response.id:
            return  # a cancelled response's leftovers
        if isinstance(event, ModelText):
            if response.timing.first_token is None:
                response.timing.first_token = now
            response.add_text(event.text)
            self.speaker.set_text(response.text)
        elif isinstance(event, ModelToolCall):
            response.calls.append(event.call)
        elif isinstance(event, ModelDone):
            self._round_done(response, now)
        elif isinstance(event, ModelFailed):
            self._model_failed(response, event.error)
        elif isinstance(event, SentenceStarted):
            if response.timing.first_sentence is None:
                response.timing.first_sentence = now
            self.speaker.segment(event.sentence.start, event.sentence.end)
            text = response.text[: event.sentence.end].strip()
            self._emit(Transcript("agent", text, final=False, turn=response.turn))
        elif isinstance(event, SpeechAudio):
            if response.timing.first_audio is None:
                response.timing.first_audio = now
            self.speaker.audio(event.chunk, self.tts.sample_rate, now)
            self.pace(now)
        elif isinstance(event, SentenceSpoken):
            self.speaker.end_segment(now)
            self.pace(now)
        elif isinstance(event, SpeechDone):
            response.speech_done = True
            self.pace(now)
        elif isinstance(event, SpeechFailed):
            log.warning("speech synthesis failed: %s", event.error)
            self._emit(Failure("tts_error", f"speech synthesis failed: {event.error}", False))
            response.speech_done = True
            self.pace(now)

    def _round_done(self, response: Response, now: float) -> None:
        response.model_busy = False
        segment = response.segments[-1]
        segment.end = len(response.text)
        if not response.calls:
            response.close_text()
            self._maybe_finished(response)
            return
        response.release()  # what the model said so far is spoken while the tools run
        round_text = response.text[segment.start : segment.end].strip()
        if round_text:  # the model's words belong before its calls in the context
            self._history.add(Said("agent", round_text, segment.group))
        names = ", ".join(call.name for call in response.calls)
        self._emit(AgentThinking(f"calling {names}"))
        hang_up = self.desk.dispatch(
            response.calls, response=response.id, group=segment.group, turn=response.turn
        )
        response.hang_up = response.hang_up or hang_up
        if not self.desk.outstanding(response.id, segment.group):
            self.tools_settled(response.id, segment.group, now)

    def tools_settled(self, response_id: int, group: int, now: float) -> None:
        """Every call of a round has its result: the model speaks again (unless hanging up)."""
        response = self.current
        if response is None or response.id != response_id or response.group != group:
            return
        if response.hang_up:
            response.close_text()
            self._maybe_finished(response)
            return
        if response.text and not response.text[-1].isspace():
            response.add_text(" ")
        self._new_segment(response)
        self._ask(response, now)

    def _model_failed(self, response: Response, error: Exception) -> None:
        log.warning("the language model failed: %s", error)
        self._emit(Failure("llm_error", f"the language model failed: {error}", False))
        response.model_busy = False
        response.failed = True
        if response.text and not response.text[-1].isspace():
            response.add_text(" ")
        response.add_text(self.plan.apology)
        self.speaker.set_text(response.text)
        response.segments[-1].end = len(response.text)
        response.close_text()

    # Output pacing and completion ---------------------------------------------------------------

    def pace(self, now: float) -> None:
        response = self.current
        if response is None:
            return
        if response.timing.first_frame is None and self.speaker.pacer.has_due(now):
            response.timing.first_frame = now
            self._started_speaking(response)  # announced before its first sound
        self.speaker.send_due(now)
        self._maybe_checkpoint(response, now)
        due = self.speaker.pacer.next_due()
        if due is not None:  # wake once per quantum, not once per frame
            self._alarms.set(
                "pace", response.id, due + (self.plan.pace_quantum_ms - self.plan.frame_ms) / 1000
            )
        if (
            response.speech_done
            and not response.audio_done_sent
            and self.speaker.pacer.pending == 0
            and response.timing.first_frame is not None
        ):
            response.audio_done_sent = True
            self._emit(AgentAudioDone(response.turn))
        self._maybe_finished(response)

    def _maybe_checkpoint(self, response: Response, now: float) -> None:
        if response.timing.first_frame is None:
            return
        played = self.speaker.played_ms(now)
        if played < response.checkpoint_due_ms:
            return
        response.checkpoint_due_ms = played + CHECKPOINT_EVERY_MS
        heard = self.speaker.heard_until(now)
        for segment, text, _full in self._heard_segments(response, heard):
            if text:
                self._writer.save(
                    Record(segment.seq, "agent", text, turn=response.turn, interrupted=True)
                )

    def _started_speaking(self, response: Response) -> None:
        self._set_state("speaking")
        metrics = self.metrics(response)
        self._emit(AgentStartedSpeaking(response.turn, metrics))
        self._emit(metrics)

    def metrics(self, response: Response) -> TurnMetrics:
        t = response.timing
        return TurnMetrics(
            turn=response.turn,
            endpoint_ms=t.endpoint_ms,
            stt_ms=t.stt_ms,
            llm_ttft_ms=_ms(t.model_asked, t.first_token),
            tts_ttfb_ms=_ms(t.first_sentence, t.first_audio),
            total_ms=_ms(t.turn_end, t.first_frame),
        )

    def _maybe_finished(self, response: Response) -> None:
        if not (response.text_closed and response.speech_done and not response.model_busy):
            return
        if self.speaker.pacer.pending or self.desk.outstanding(response.id, response.group):
            return
        at = self.speaker.pacer.finished_at()
        self._alarms.set("played_out", response.id, at if at is not None else 0.0)

    def played_out(self, response_id: int, now: float) -> None:
        response = self.current
        if response is None or response.id != response_id:
            return
        self.current = None
        # Everything sent has been played; what had no audio (a synthesiser that failed
        # partway) was never heard, so it is not committed.
        self._commit(response, self.speaker.heard_until(now), now)
        self._set_state("listening")
        self._on_finished(response)

    # Cancelling -------------------------------------------------------------------------------

    async def cancel(self, now: float) -> bool:
        """Stop the current response; commit what was heard. True if audio had been sent."""
        response = self.current
        if response is None:
            return False
        self.current = None
        self._alarms.cancel("pace", response.id)
        self._alarms.cancel("played_out", response.id)
        sent_audio = response.timing.first_frame is not None
        heard = self.speaker.heard_until(now) if sent_audio else 0
        self.speaker.stop()
        await response.cancel()
        self._commit(response, heard, now)
        return sent_audio

    def _commit(self, response: Response, heard: int, now: float) -> None:
        """Store each round's text, cut at what the caller heard, and tell the client."""
        metrics = self.metrics(response).as_dict() if response.timing.first_frame else None
        for segment, text, full in self._heard_segments(response, heard):
            self._place_in_history(segment, text, full)
            if not text:
                continue
            self._writer.save(
                Record(
                    segment.seq,
                    "agent",
                    text,
                    turn=response.turn,
                    interrupted=len(text) < len(full),
                    metrics=metrics,
                )
            )
            metrics = None
        heard_text = response.text[:heard].strip()
        if heard_text:
            self._emit(Transcript("agent", heard_text, final=True, turn=response.turn))

    @staticmethod
    def _heard_segments(response: Response, heard: int) -> list[tuple[Segment, str, str]]:
        """Each round's (segment, text heard, full text)."""
        cut = []
        for segment in response.segments:
            end = segment.end if segment.end is not None else len(response.text)
            text = response.text[segment.start : min(end, heard)].strip()
            cut.append((segment, text, response.text[segment.start : end].strip()))
        return cut

    def _place_in_history(self, segment: Segment, heard: str, full: str) -> None:
        """A round's utterance is in the history already if it preceded tool calls."""
        for entry in reversed(self._history.entries):
            if isinstance(entry, Said) and entry.role == "agent" and entry.group == segment.group:
                if heard:
                    entry.text = heard
                else:
                    self._history.entries.remove(entry)
                return
        if heard:
            self._history.add(Said("agent", heard, segment.group))
