"""The agent's turn inside the session core: from asking the model to the last sound the
caller hears.

One response at a time. Model text is cut into sentences and spoken (`Speak` effects);
audio comes back, is framed and paced out by the `Speaker` (pure); tool calls end a model
round, are dispatched by the `ToolDesk`, and their results start the next round. A
response completes when everything was said and the caller's player has played it out;
only then is the agent's utterance committed in full. A cancelled response (barge-in, a
new typed turn, the session ending) commits only what the caller heard. A response held
while the caller talks over it is `holding`'s.

The round cap is the engine's, not the model's: rounds past `max_tool_rounds` are asked
with `allow_tools=False`, and calls a model makes anyway are refused and recorded; one
more round is asked for a final answer, and if that one calls tools too, the response ends
with what was said.

Transcript rows are numbered when their place in the conversation is known (a round's text
before that round's tool calls), so they are stored in speaking order whenever written.
While the agent speaks, what the caller has heard so far is checkpointed to the transcript
every `CHECKPOINT_EVERY_MS` of playback, marked interrupted until the response completes:
if the process dies mid-reply (kill -9), the stored row holds what was heard, not nothing.
"""

from __future__ import annotations

import logging

from parley.engine.chunker import Sentence
from parley.engine.effects import AskModel, CloseResponse, EndSpeech, Outbox, Speak, StartSpeech
from parley.engine.events import (
    AgentAudioDone,
    AgentStartedSpeaking,
    AgentThinking,
    BargeInResolved,
    EndReason,
    Failure,
    Medium,
    ResponseEnded,
    ResponseStarted,
    ToolsAwaited,
    Transcript,
)
from parley.engine.heard import checkpoint, commit
from parley.engine.history import History, Said
from parley.engine.measures import BargeIn
from parley.engine.plan import Plan
from parley.engine.response import (
    ModelDone,
    ModelFailed,
    ModelText,
    ModelToolCall,
    ModelUsage,
    PlayPhase,
    Response,
    ResponseEvent,
    RoundPhase,
    Segment,
    SentenceSpoken,
    SentenceStarted,
    SpeechAudio,
    SpeechDone,
    SpeechFailed,
    SpeechPhase,
    TurnTiming,
)
from parley.engine.speaking import Speaker
from parley.engine.status import Status
from parley.engine.tooldesk import ToolDesk
from parley.engine.tools import ToolCatalogue
from parley.providers.base import ChatRequest

log = logging.getLogger("parley.engine")

CHECKPOINT_EVERY_MS = 2000.0  # replies under 2 s (most) cost no extra write; a crash loses < 2 s


class Responding:
    def __init__(
        self,
        *,
        plan: Plan,
        speaker: Speaker,
        desk: ToolDesk,
        history: History,
        out: Outbox,
        status: Status,
    ) -> None:
        self.plan = plan
        self.speaker = speaker
        self.desk = desk
        self._history = history
        self.out = out
        self.status = status
        self.current: Response | None = None
        self.text_only = plan.text_output  # replies are written, not spoken
        self._ids = 0
        self._groups = 0

    # Starting ---------------------------------------------------------------------------------

    def answer(
        self,
        turn: int,
        timing: TurnTiming,
        now: float,
        extra_user: str | None = None,
        *,
        uninterruptible: bool = False,
        instructions: str | None = None,
        out_of_band: bool = False,
        tools: ToolCatalogue | None = None,
    ) -> Response:
        """Ask the model to answer the conversation so far (`instructions`, if any, in
        place of the system prompt; `out_of_band`: for the client only, without tools)."""
        response = self._begin(turn, timing, uninterruptible, None)
        response.instructions, response.out_of_band = instructions, out_of_band
        response.tools = tools
        self._ask(response, now, extra_user)
        return response

    def say(
        self,
        turn: int,
        text: str,
        timing: TurnTiming,
        *,
        uninterruptible: bool = False,
        ends_with: EndReason | None = None,
    ) -> Response:
        """Speak `text` verbatim (greetings, scripted messages)."""
        response = self._begin(turn, timing, uninterruptible, ends_with)
        self._speak(response, response.add_text(text))
        self._wrote(response)
        self._close_text(response)
        return response

    def _begin(
        self, turn: int, timing: TurnTiming, uninterruptible: bool, ends_with: EndReason | None
    ) -> Response:
        self._ids += 1
        response = Response(
            self._ids,
            turn,
            timing,
            ends_with=ends_with,
            uninterruptible=uninterruptible,
            checkpoint_due_ms=CHECKPOINT_EVERY_MS,
        )
        self._new_segment(response)
        self.speaker.begin()
        self.out.add(StartSpeech(response.id))
        self.out.emit(ResponseStarted(response.id))
        self.current = response
        self.status.set_state("thinking")
        return response

    def _new_segment(self, response: Response) -> None:
        self._groups += 1
        response.segments.append(Segment(self.status.next_seq(), self._groups, len(response.text)))

    def _ask(self, response: Response, now: float, extra_user: str | None = None) -> None:
        if response.timing.model_asked is None:
            response.timing.model_asked = now
        request = ChatRequest(
            system_prompt=response.instructions or self.status.system_prompt,
            turns=self._history.turns(extra_user),
            tools=(response.tools or self.desk.catalogue).specs(),
            allow_tools=response.rounds < self.plan.max_tool_rounds
            and response.reaction != "speaks_once"
            and not response.out_of_band,
            temperature=self.plan.temperature,
            max_tokens=self.plan.max_tokens,
        )
        response.rounds += 1
        response.calls = []
        response.model = RoundPhase.ASKING
        self.out.add(AskModel(response.id, request))

    def _speak(self, response: Response, sentences: list[Sentence]) -> None:
        if self.text_only:
            return  # written, not spoken: the transcript carries it (`_wrote`)
        for sentence in sentences:
            response.sentences_queued += 1
            self.out.add(Speak(response.id, sentence))

    def _wrote(self, response: Response) -> None:
        """The response's text grew: the ledger learns it; in text mode the client sees it."""
        self.speaker.set_text(response.text)
        if self.text_only and response.text.strip():
            text = response.text.strip()
            self.out.emit(Transcript("agent", text, final=False, turn=response.turn, medium="text"))

    def _close_text(self, response: Response) -> None:
        response.segments[-1].end = len(response.text)
        tail = response.close_text()
        if tail is not None:
            self._speak(response, [tail])
        self.out.add(EndSpeech(response.id))

    # Events from the response's work ------------------------------------------------------------

    def handle(self, event: ResponseEvent, now: float) -> None:
        response = self.current
        if response is None or event.response != response.id:
            return  # a cancelled or finished response's leftovers
        if isinstance(event, SpeechAudio):
            if response.timing.first_audio is None:
                response.timing.first_audio = now
            self.speaker.audio(event.chunk, event.sample_rate, now)
            self.pace(now)
        elif isinstance(event, ModelText):
            if response.timing.first_token is None:
                response.timing.first_token = now
            if response.model is RoundPhase.ASKING:
                self._speak(response, response.add_text(event.text))
                self._wrote(response)
        elif isinstance(event, ModelUsage):
            spent = response.usage or (0, 0)
            response.usage = (spent[0] + event.input_tokens, spent[1] + event.output_tokens)
        elif isinstance(event, ModelToolCall):
            if response.model is RoundPhase.ASKING:
                response.calls.append(event.call)
        elif isinstance(event, ModelDone):
            if response.model is RoundPhase.ASKING:
                self._round_done(response, now)
        elif isinstance(event, ModelFailed):
            if response.model is RoundPhase.ASKING:
                self._model_failed(response, event.error)
        elif isinstance(event, SentenceStarted):
            if response.timing.first_sentence is None:
                response.timing.first_sentence = now
            self.speaker.segment(event.sentence.start, event.sentence.end)
            text = response.text[: event.sentence.end].strip()
            self.out.emit(Transcript("agent", text, final=False, turn=response.turn))
        elif isinstance(event, SentenceSpoken):
            response.sentences_spoken += 1
            self.speaker.end_segment(now)
            self.pace(now)
        elif isinstance(event, SpeechDone):
            response.speech = SpeechPhase.DONE
            self.pace(now)
        elif isinstance(event, SpeechFailed):
            log.warning("speech synthesis failed: %s", event.error)
            self.out.emit(Failure("tts_error", f"speech synthesis failed: {event.error}", False))
            response.speech = SpeechPhase.DONE
            self.pace(now)

    def _round_done(self, response: Response, now: float) -> None:
        segment = response.segments[-1]
        segment.end = len(response.text)
        if not response.calls:
            self._close_text(response)
            self.maybe_finished(response)
            return
        tail = response.release()  # what the model said so far is spoken while tools run
        if tail is not None:
            self._speak(response, [tail])
        round_text = response.text[segment.start : segment.end].strip()
        if round_text:  # the model's words belong before its calls in the context
            self._history.add(Said("agent", round_text, segment.group))
        calls, where = (
            response.calls,
            {
                "response": response.id,
                "group": segment.group,
                "turn": response.turn,
            },
        )
        if response.rounds > self.plan.max_tool_rounds:  # asked without tools; called anyway
            response.refused_rounds += 1
            limit = self.plan.max_tool_rounds
            self.desk.refuse(
                calls,
                **where,
                reason=f"refused: the limit of {limit} tool rounds was reached",
                catalogue=response.tools,
            )
            if response.refused_rounds > 1:  # the final answer called tools too: stop here
                self._close_text(response)
                self.maybe_finished(response)
                return
            response.model = RoundPhase.TOOLS
            self.tools_settled(response.id, segment.group, now)
            return
        names = ", ".join(call.name for call in calls)
        self.out.emit(AgentThinking(f"calling {names}"))
        response.model = RoundPhase.TOOLS
        response.tools_announced = False
        ending = self.desk.dispatch(calls, **where, now=now, catalogue=response.tools)
        if ending is not None and response.ends_with is None:
            response.ends_with, response.transfer_to = ending.reason, ending.transfer_to
        self._announce_tools(response)  # at once if nothing was to be said first
        if not self.desk.outstanding(response.id, segment.group):
            self.tools_settled(response.id, segment.group, now)

    def tools_settled(self, response_id: int, group: int, now: float) -> None:
        """Every call of a round has its result: the model speaks again (unless hanging up)."""
        response = self.current
        if response is None or response.id != response_id or response.group != group:
            return
        if response.model is not RoundPhase.TOOLS:
            return
        if response.ends_with is not None or response.reaction == "listens":
            self._close_text(response)
            self.maybe_finished(response)
            return
        if response.text and not response.text[-1].isspace():
            self._speak(response, response.add_text(" "))
        self._new_segment(response)
        self._ask(response, now)

    def _model_failed(self, response: Response, error: Exception) -> None:
        log.warning("the language model failed: %s", error)
        self.out.emit(Failure("llm_error", f"the language model failed: {error}", False))
        if response.text and not response.text[-1].isspace():
            self._speak(response, response.add_text(" "))
        self._speak(response, response.add_text(self.plan.apology))
        self._wrote(response)
        self._close_text(response)

    # Output pacing and completion ---------------------------------------------------------------

    def pace(self, now: float) -> None:
        response = self.current
        if response is None or response.held_since is not None:
            return  # nothing leaves a held response
        if response.play is PlayPhase.SILENT and self.speaker.pacer.has_due(now):
            response.play = PlayPhase.AUDIBLE
            response.timing.first_frame = now
            self._started_speaking(response)  # announced before its first sound
        self.speaker.send_due(now)
        self._maybe_checkpoint(response, now)
        due = self.speaker.pacer.next_due()
        if due is not None:  # wake once per quantum, not once per frame
            quantum = (self.plan.pace_quantum_ms - self.plan.frame_ms) / 1000
            self.out.arm("pace", response.id, due + quantum)
        if (
            response.speech is SpeechPhase.DONE
            and response.play is PlayPhase.AUDIBLE
            and self.speaker.pacer.pending == 0
        ):
            response.play = PlayPhase.DRAINED
            self.out.emit(AgentAudioDone(response.turn))
        self._announce_tools(response)
        self.maybe_finished(response)

    def _announce_tools(self, response: Response) -> None:
        """Once per tool round, when the words before its calls have all been sent."""
        if response.model is not RoundPhase.TOOLS or response.tools_announced:
            return
        said = response.sentences_spoken >= response.sentences_queued
        if (said or response.speech is SpeechPhase.DONE) and self.speaker.pacer.pending == 0:
            response.tools_announced = True
            self.out.emit(ToolsAwaited(response.turn))

    def _maybe_checkpoint(self, response: Response, now: float) -> None:
        if response.play is PlayPhase.SILENT:
            return
        played = self.speaker.played_ms(now)
        if played < response.checkpoint_due_ms:
            return
        response.checkpoint_due_ms = played + CHECKPOINT_EVERY_MS
        checkpoint(response, self.speaker.heard_until(now), self.out)

    def _started_speaking(self, response: Response) -> None:
        self.status.set_state("speaking")
        metrics = response.timing.metrics(response.turn)
        self.out.emit(AgentStartedSpeaking(response.turn, metrics))
        self.out.emit(metrics)

    def maybe_finished(self, response: Response) -> None:
        if response.model is not RoundPhase.CLOSED or response.speech is not SpeechPhase.DONE:
            return
        if response.held_since is not None:
            return  # it finishes once it goes on
        if self.speaker.pacer.pending or self.desk.outstanding(response.id, response.group):
            return
        at = self.speaker.pacer.finished_at()
        self.out.arm("played_out", response.id, at if at is not None else 0.0)

    def played_out(self, response_id: int, now: float) -> Response | None:
        """The response is complete (and returned) if it is the current one."""
        response = self.current
        if response is None or response.id != response_id:
            return None
        self.current = None
        self.out.add(CloseResponse(response.id))
        # Everything sent has been played; what had no audio (a synthesiser that failed
        # partway) was never heard, so it is not committed.
        self._commit(response, self._heard(response, now))
        self.out.emit(ResponseEnded(response.id, "completed", response.usage))
        self.status.set_state("listening")
        return response

    def _heard(self, response: Response, now: float) -> int:
        """How much of the response's text reached the caller."""
        if self.text_only:
            return len(response.text)  # written replies are read in full as they come
        return self.speaker.heard_until(now)

    # Cancelling -------------------------------------------------------------------------------

    def cancel(
        self, now: float, resolved: BargeIn | None = None, *, withdrawn: bool = False
    ) -> bool:
        """Stop the current response; commit what was heard. True if audio had been sent.
        `resolved`: the speech it was held for, now a barge-in (kept with its metrics).
        `withdrawn`: the caller's turn goes on (`engine/continuation.py`): nothing of it
        is committed."""
        response = self.current
        if response is None:
            return False
        if resolved is not None and response.held_since is not None:
            response.barge_ins.append(resolved)
            self.out.emit(BargeInResolved(resolved))
        self.current = None
        self.out.disarm("pace", response.id)
        self.out.disarm("played_out", response.id)
        self.out.add(CloseResponse(response.id))
        sent_audio = response.play is not PlayPhase.SILENT
        kept = (sent_audio or self.text_only) and not withdrawn
        heard = self._heard(response, now) if kept else 0
        self.speaker.stop()
        self._commit(response, heard)
        self.out.emit(ResponseEnded(response.id, "cancelled", response.usage))
        return sent_audio

    def _commit(self, response: Response, heard: int) -> None:
        """Store each round's text, cut at what the caller heard, and tell the client."""
        medium: Medium = "text" if self.text_only else "voice"
        commit(response, heard, self._history, self.out, medium)
