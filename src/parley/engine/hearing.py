"""The caller's side of turn-taking, inside the session core: when an utterance starts,
pauses, ends, and becomes a user turn.

The turn detector (a pure state machine over VAD probabilities) is owned here: VAD results
arrive as events (`HeardFrames`, batched as they came back) and only this module moves the
detector. Its signals drive the caller's phase:

    QUIET ──onset──► SPEAKING ──silence──► PAUSED ──end of turn──► RECOGNISING ──final──► QUIET
                        ▲                     │                       (a user turn)
                        └──────resumed────────┘

- Speech that starts while the agent is busy (thinking or speaking) becomes a barge-in only
  once it has lasted `min_interruption_ms` (a `barge_in` timer); shorter sounds are ignored.
  Over an uninterruptible response (a firm greeting, a closing line) it never does.
- Under `interruption: confirm` speech over the agent *pauses* it at once (its onset, after
  `CONFIRM_START_MS` of speech rather than `start_ms`) and the words decide: a transcript
  with words that are not a backchannel (a partial one only if `decisive`), or speech that
  goes on past `CONFIRM_LONG_MS`, is a barge-in (the reply is cut where it paused); a
  backchannel ("uh-huh"), no words (a cough) or speech under `min_interruption_ms` resumes
  the agent from where it paused and is not a turn. Such an utterance is *holding* until
  then; every way it ends resolves the hold one way or the other (`engine/barge_in.py`).
- A barge-in that began as the reply was starting (`engine/continuation.py`) continues the
  caller's turn: the reply is withdrawn and its words join the turn (`continues`).
- Under `turn_detection: semantic` the end of a turn is the end-of-turn model's to judge
  (`engine/end_of_turn.py`): asked at the first silence, again as it grows, with the
  `endpoint` timer at `max_endpoint_ms` as the backstop. Speech over a paused agent is
  judged by silence alone (a backchannel should not wait for a model).
- An utterance shorter than `min_turn_ms`, or over the agent and never confirmed, is dropped
  at its endpoint (QUIET again, no transcript owed).
- The final transcript is awaited at most `recognition_timeout_s` (a `recognition` timer).
- A recogniser that fails, at any phase, drops the utterance *and resets the detector*, so
  the next speech is heard as a new onset (a detector left "speaking" would never report one).

Every method runs inside one `SessionCore.handle` call; effects go to the outbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from parley.engine import barge_in, end_of_turn
from parley.engine.agent import VadSettings
from parley.engine.agent_side import AgentSide
from parley.engine.backchannel import Backchannels, Heard
from parley.engine.effects import (
    AbandonRecognition,
    BeginRecognition,
    FinishRecognition,
    Outbox,
    PauseRecognition,
    ResumeRecognition,
)
from parley.engine.events import (
    Failure,
    NothingHeard,
    State,
    Transcript,
    TurnTaking,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)
from parley.engine.response import TurnTiming
from parley.engine.status import Status
from parley.engine.timers import TimerKind
from parley.engine.turns import Signal, SilenceStarted, SpeechResumed, SpeechStarted, TurnDetector
from parley.engine.utterance import CallerPhase, Utterance
from parley.providers.base import Transcription

log = logging.getLogger("parley.engine")

_UTTERANCE_TIMERS: tuple[TimerKind, ...] = ("endpoint", "turn_check", "barge_in", "recognition")
CONFIRM_LONG_MS = 1500  # speech over a paused agent this long is a barge-in, words or not
# Under `confirm`, speech over the agent counts (and pauses it) once it has lasted this long,
# if `start_ms` is longer: a pause is taken back when the speech turns out to be nothing, so
# it can come sooner than a turn's onset (measured with espeak's barge-ins: caller's first
# sound → agent silent p50 175 → 131 ms, p95 253 → 174 ms; docs/benchmarks.md).
CONFIRM_START_MS = 96


@dataclass(frozen=True, slots=True)
class HeardFrames:
    """VAD results as they came back: (speech probability, when the frame's audio ended)."""

    results: list[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class RecognitionFailed:
    utterance: int
    error: Exception


class Hearing:
    def __init__(
        self,
        *,
        settings: VadSettings,
        detector: TurnDetector,
        recognition_timeout_s: float,
        out: Outbox,
        agent: AgentSide,
        status: Status,
        language: str = "en",
        turn_model: bool = False,
    ) -> None:
        """`agent` is the core behind a weak proxy: nothing of a session points back at its
        owner, so it forms no reference cycle (see `engine/status.py`). `turn_model`: an
        end-of-turn model answers `CheckTurn` (without one, `semantic` is `silence`)."""
        self.settings = settings
        self.language = language
        self.turn_model = turn_model
        self._backchannels = Backchannels.for_agent(language, settings.backchannels)
        self.detector = detector
        self.heard_until = 0.0  # the end of the latest frame the VAD has answered
        self._recognition_timeout = recognition_timeout_s
        self.out = out
        self.agent = agent
        self.set_state = status.set_state
        self.phase = CallerPhase.QUIET
        self.utterance: Utterance | None = None
        self._next_id = 1
        self.turn_taking = TurnTaking()  # silence ends a turn, which is answered
        self._commit_owed = False  # a client's commit while its last turn is recognised

    def configure(self, turn_taking: TurnTaking, now: float) -> None:
        """New rules from the next signal on. Turning to client-ended turns opens the
        caller's buffer at once: from then on everything the caller sends is the turn until
        the client commits it, whatever the VAD thinks (as a client that ends turns itself
        expects); turning back drops that buffer."""
        manual = not turn_taking.auto_end
        was_manual = not self.turn_taking.auto_end
        self.turn_taking = turn_taking
        if turn_taking.vad:
            self.settings = self.settings.model_copy(update=turn_taking.vad)
            self.detector.retune(self.settings.threshold, self.settings.start_ms)
            self._backchannels = Backchannels.for_agent(self.language, self.settings.backchannels)
        if manual and not was_manual:
            if self.phase is not CallerPhase.RECOGNISING:
                self._forget(now)
                self._open_buffer(now)
        elif was_manual and not manual:  # the VAD decides again, from a fresh start
            if self.phase is CallerPhase.RECOGNISING:
                self.detector.reset()
            else:
                self._drop(now)

    def _open_buffer(self, now: float) -> None:
        """Client-ended turns: the next turn starts now, heard in full."""
        if self.turn_taking.auto_end or self.utterance is not None:
            return
        utterance = Utterance(self._next_id, now, interrupting=False, confirmed=True)
        self._next_id += 1
        self.utterance = utterance
        self.phase = CallerPhase.SPEAKING
        self.out.add(BeginRecognition(utterance.id))  # with what was said since the commit
        if self._commit_owed:
            self._commit_owed = False
            self.commit(now)

    @property
    def caller_mid_turn(self) -> bool:
        """The caller is talking (as the VAD hears it) or their finished turn is being
        recognised; an open client-ended buffer alone is not a turn under way."""
        if self.phase is CallerPhase.RECOGNISING:
            return True
        return self.mid_speech and self.turn_taking.auto_end

    @property
    def mid_speech(self) -> bool:
        return self.phase in (CallerPhase.SPEAKING, CallerPhase.PAUSED)

    def frames(self, event: HeardFrames, now: float) -> None:
        if not self.detector.speaking:
            self.detector.start_s = self._onset_ms() / 1000
        for probability, end in event.results:
            self.heard_until = end
            signal = self.detector.frame(probability, end)
            if signal is not None:
                self._signal(signal, now)
        end_of_turn.heard_more(self, now)

    def _signal(self, signal: Signal, now: float) -> None:
        utterance = self.utterance
        if not self.turn_taking.auto_end:  # the client ends turns: the VAD only says
            if isinstance(signal, SpeechStarted):  # the caller is there
                self.agent.caller_active()
            return
        if isinstance(signal, SpeechStarted):
            self._onset(signal, now)
        elif utterance is None:
            return
        elif isinstance(signal, SilenceStarted) and self.phase is CallerPhase.SPEAKING:
            self.phase = CallerPhase.PAUSED
            utterance.ended_at = signal.at
            utterance.heard_in_pause = False
            end_of_turn.silence_began(self, utterance, signal.at)
            self.out.add(PauseRecognition(utterance.id))
        elif isinstance(signal, SpeechResumed) and self.phase is CallerPhase.PAUSED:
            self.phase = CallerPhase.SPEAKING
            utterance.ended_at = None
            utterance.ends_when_quiet = False
            self.out.disarm("endpoint", utterance.id)
            self.out.disarm("turn_check", utterance.id)
            self.out.add(ResumeRecognition(utterance.id))
            if utterance.holding and now >= utterance.started_at + self._long_ms / 1000:
                barge_in.due(self, utterance.id, now)  # it paused across the mark: goes on

    def _onset(self, signal: SpeechStarted, now: float) -> None:
        busy = self.agent.busy()
        confirming = busy and self._confirms
        # an earlier utterance still awaiting its transcript is superseded: a pause it holds
        # the agent in passes to this one if this one is confirmed too; if not (the rules
        # changed meanwhile), nothing would ever end that pause, so the agent goes on
        earlier = self._forget(now, superseded=confirming and self.agent.interruptible())
        self.agent.caller_active()
        utterance = Utterance(self._next_id, signal.at, interrupting=busy, confirmed=not busy)
        # it takes over a continuation too: the reply that one withdrew is owed to the turn
        utterance.continues = earlier is not None and earlier.continues
        self._next_id += 1
        self.utterance = utterance
        self.phase = CallerPhase.SPEAKING
        hints = self._backchannels.hints if confirming else ()  # what it most likely says
        self.out.add(BeginRecognition(utterance.id, hints))
        if busy and not self.agent.interruptible():
            return  # talking over an uninterruptible agent: dropped at its endpoint
        if busy and not self.turn_taking.barge_in:  # heard, and answered after the agent
            utterance.confirmed = True
            self.out.emit(UserStartedSpeaking())
            return
        if not busy:
            self.out.emit(UserStartedSpeaking())
            self.set_state("listening")
            return
        if self.settings.interruption == "confirm":
            utterance.held_since = self.agent.hold(now)
            if utterance.held_since is not None:
                self.out.arm("barge_in", utterance.id, signal.at + self._long_ms / 1000)
                return
        barge_at = signal.at + self.settings.min_interruption_ms / 1000
        if barge_at <= now:
            barge_in.confirm(self, utterance, now)
        else:
            self.out.arm("barge_in", utterance.id, barge_at)

    def _onset_ms(self) -> float:
        """How long speech must last to count: `start_ms`, or less over an agent that a
        pause would hold (`CONFIRM_START_MS`)."""
        start = self.settings.start_ms
        if (
            start > CONFIRM_START_MS
            and self._confirms
            and self.agent.busy()
            and self.agent.interruptible()
        ):
            return CONFIRM_START_MS
        return start

    @property
    def _confirms(self) -> bool:
        """Speech over a busy agent pauses it and waits for its words (`confirm`)."""
        return self.settings.interruption == "confirm" and self.turn_taking.barge_in

    @property
    def _long_ms(self) -> float:
        """Speech over a paused agent this long is a barge-in, words or not."""
        return max(CONFIRM_LONG_MS, self.settings.min_interruption_ms)

    def commit(self, now: float) -> None:
        """The client ends the caller's turn now: what was said counts, however short the
        silence after it, even over the agent."""
        utterance = self.utterance
        if self.phase is CallerPhase.RECOGNISING and not self.turn_taking.auto_end:
            self._commit_owed = True  # the next buffer opens at the transcript: commit it then
            return
        if utterance is None or not self.mid_speech:
            self.out.emit(UserStoppedSpeaking(speech=False))
            return
        self.out.disarm("endpoint", utterance.id)
        self.out.disarm("turn_check", utterance.id)
        self.out.disarm("barge_in", utterance.id)
        if utterance.holding:  # a committed turn takes the floor: the paused reply is cut
            barge_in.confirm(self, utterance, now, "words")
        utterance.confirmed = True
        utterance.decided_by = "commit"
        if utterance.ended_at is None:
            utterance.ended_at = now
        self.endpoint(utterance.id, now, committed=True)

    def discard(self, now: float) -> None:
        """The client drops what the caller has said since the last turn."""
        if self.utterance is not None and self.phase is not CallerPhase.RECOGNISING:
            self._drop(now)
            self._idle("listening")
        self._open_buffer(now)

    def endpoint(self, utterance_id: int, now: float, *, committed: bool = False) -> None:
        """The turn is over: the silence rule's `endpoint_ms`, the end-of-turn model, its
        longest wait, or the client `committed` (and then however short the silence)."""
        utterance = self.utterance
        if utterance is None or utterance.id != utterance_id or not self.mid_speech:
            return
        self.out.disarm("turn_check", utterance.id)
        self.out.disarm("endpoint", utterance.id)
        self.detector.end_turn()
        utterance.endpoint_at = now
        if utterance.holding:  # speech over the paused agent: its words decide
            if utterance.duration_ms() < self.settings.min_interruption_ms:
                barge_in.resume(self, utterance, now, "short")
                self._drop(now)
            else:
                self.phase = CallerPhase.RECOGNISING
                self.out.add(FinishRecognition(utterance.id))
                self.out.arm("recognition", utterance.id, now + self._recognition_timeout)
            return
        short = not committed and utterance.duration_ms() < self.settings.min_turn_ms
        if not utterance.confirmed or short:
            self._drop(now)
            self._idle("listening")
            return
        self._recognise(utterance, now)

    def _recognise(self, utterance: Utterance, now: float) -> None:
        self.phase = CallerPhase.RECOGNISING
        self.out.emit(UserStoppedSpeaking(silence_ms=self._silence_ms(utterance, now)))
        self.out.add(FinishRecognition(utterance.id))
        self.out.arm("recognition", utterance.id, now + self._recognition_timeout)
        self._idle("thinking")

    @staticmethod
    def _silence_ms(utterance: Utterance, at: float) -> float | None:
        """The silence the turn was judged over after (None for a client's commit)."""
        if utterance.decided_by == "commit":
            return None
        ended = utterance.ended_at if utterance.ended_at is not None else at
        return round((at - ended) * 1000, 1)

    def transcription(self, result: Transcription, now: float) -> None:
        utterance = self.utterance
        if utterance is None or utterance.id != result.utterance:
            return
        if not result.final:
            utterance.partial = result.text
            utterance.partial_punctuated = result.punctuated
            utterance.heard_in_pause = self.phase is CallerPhase.PAUSED
            continued = 1 if utterance.continues else 0  # a continuation is the latest turn's
            turn = self.agent.next_turn() - continued
            self.out.emit(Transcript("user", result.text, final=False, turn=turn))
            if utterance.heard_in_pause:
                end_of_turn.words_heard(self, utterance, now)
                if self.utterance is not utterance or self.phase is not CallerPhase.PAUSED:
                    return  # the words ended the turn
            if (
                utterance.holding
                and self.mid_speech  # once it has ended, its final transcript decides
                and self._backchannels.decisive(result.text)
                and utterance.duration_ms(now) >= self.settings.min_interruption_ms
            ):
                self.out.disarm("barge_in", utterance.id)
                barge_in.confirm(self, utterance, now, "words")
            return
        if self.phase is not CallerPhase.RECOGNISING or utterance.endpoint_at is None:
            return  # a final before the endpoint (a streaming provider's own): wait for ours
        self.out.disarm("recognition", utterance.id)
        text = result.text.strip()
        if utterance.holding:
            heard = self._backchannels.classify(text)
            utterance.partial = text
            if heard is not Heard.WORDS:
                barge_in.resume(self, utterance, now, heard.value)
                self._settle_quiet(now)
                return
            barge_in.confirm(self, utterance, now, "words")
            silence = utterance.endpoint_at
            self.out.emit(UserStoppedSpeaking(silence_ms=self._silence_ms(utterance, silence)))
        self.utterance = None
        self.phase = CallerPhase.QUIET
        if not text:
            self.out.emit(NothingHeard())  # its end was told: so is its outcome
            self.set_state("listening")
            self._open_buffer(now)  # client-ended turns: the next one is heard from now on
            return
        ended = utterance.ended_at if utterance.ended_at is not None else utterance.endpoint_at
        timing = TurnTiming(
            turn_end=ended,
            endpoint_ms=round((utterance.endpoint_at - ended) * 1000, 1),
            stt_ms=round((now - utterance.endpoint_at) * 1000, 1),
            stt_fallback=result.fallback,
            end_of_turn=end_of_turn.summary(utterance, not self.turn_taking.auto_end),
        )
        answer = self.turn_taking.answer
        self.agent.user_turn(text, timing, now, answer=answer, continues=utterance.continues)
        self._open_buffer(now)

    def recognition_failed(self, event: RecognitionFailed, now: float) -> None:
        utterance = self.utterance
        if utterance is not None and utterance.id == event.utterance:
            self._drop(now)
        self.out.emit(Failure("stt_error", f"speech recognition failed: {event.error}", False))
        self._idle("listening")
        self._open_buffer(now)

    def recognition_overdue(self, utterance_id: int, now: float) -> None:
        utterance = self.utterance
        if utterance is None or utterance.id != utterance_id:
            return
        log.warning("no transcript for utterance %s in time; dropping the turn", utterance_id)
        self._drop(now)
        self.out.emit(Failure("stt_timeout", "speech recognition did not answer in time", False))
        self._idle("listening")
        self._open_buffer(now)

    def close(self, now: float) -> None:
        self._forget(now, superseded=True)  # the session ends: nothing to resume

    def _settle_quiet(self, now: float) -> None:
        """A holding utterance ended without a turn: listening again, the agent going on
        (and, if the client ends turns now, its next buffer open)."""
        self.utterance = None
        self.phase = CallerPhase.QUIET
        self.detector.reset()
        self._open_buffer(now)

    def _drop(self, now: float) -> None:
        """Forget the current utterance and start listening afresh."""
        self._forget(now)
        self.detector.reset()

    def _forget(self, now: float, *, superseded: bool = False) -> Utterance | None:
        """Drop the current utterance (returned); a pause it held the agent in ends with it
        (the agent goes on), unless the next utterance takes the pause over (`superseded`)."""
        utterance = self.utterance
        if utterance is None:
            return None
        for kind in _UTTERANCE_TIMERS:
            self.out.disarm(kind, utterance.id)
        self.out.add(AbandonRecognition(utterance.id))
        self.utterance = None
        self.phase = CallerPhase.QUIET
        if utterance.holding and not superseded:
            barge_in.resume(self, utterance, now, "unheard")
        return utterance

    def _idle(self, state: State) -> None:
        """Show the caller's side of the state, unless the agent is busy with a response."""
        if not self.agent.busy():
            self.set_state(state)
