"""The caller's side of turn-taking, inside the session core: when an utterance starts,
pauses, ends, and becomes a user turn.

The turn detector (a pure state machine over VAD probabilities) is owned here: VAD results
arrive as events (`HeardFrames`, batched as they came back) and only this module moves the
detector. Its signals drive the caller's phase:

    QUIET ──onset──► SPEAKING ──silence──► PAUSED ──endpoint timer──► RECOGNISING ──final──► QUIET
                        ▲                     │                          (a user turn)
                        └──────resumed────────┘

- Speech that starts while the agent is busy (thinking or speaking) becomes a barge-in only
  once it has lasted `min_interruption_ms` (a `barge_in` timer); shorter sounds are ignored.
  Over an uninterruptible response (a firm greeting, a closing line) it never does.
- An utterance shorter than `min_turn_ms`, or over the agent and never confirmed, is dropped
  at its endpoint (QUIET again, no transcript owed).
- The final transcript is awaited at most `recognition_timeout_s` (a `recognition` timer).
- A recogniser that fails, at any phase, drops the utterance *and resets the detector*, so
  the next speech is heard as a new onset (a detector left "speaking" would never report one).

Every method runs inside one `SessionCore.handle` call; effects go to the outbox.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from parley.engine.agent import VadSettings
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
    Interrupted,
    Medium,
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
from parley.providers.base import Transcription

log = logging.getLogger("parley.engine")

_UTTERANCE_TIMERS: tuple[TimerKind, ...] = ("endpoint", "barge_in", "recognition")


class CallerPhase(enum.Enum):
    QUIET = "quiet"  # no utterance open
    SPEAKING = "speaking"  # speech going on
    PAUSED = "paused"  # silence after speech; the endpoint timer runs
    RECOGNISING = "recognising"  # the turn is over; the final transcript is awaited


@dataclass
class Utterance:
    """One stretch of caller speech, from onset to the end of the turn."""

    id: int
    started_at: float
    interrupting: bool  # began while the agent was thinking or speaking
    confirmed: bool  # counts: not interrupting, or long enough to barge in
    ended_at: float | None = None  # when the speech itself ended (estimated)
    endpoint_at: float | None = None  # when the turn was declared over
    partial: str = ""

    def duration_ms(self) -> float:
        end = self.ended_at if self.ended_at is not None else self.started_at
        return (end - self.started_at) * 1000


@dataclass(frozen=True, slots=True)
class HeardFrames:
    """VAD results as they came back: (speech probability, when the frame's audio ended)."""

    results: list[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class RecognitionFailed:
    utterance: int
    error: Exception


class AgentSide:
    """What hearing needs from the rest of the core (implemented by `SessionCore`)."""

    def busy(self) -> bool:
        raise NotImplementedError

    def barge_in(self, now: float) -> bool:
        """Cancel the agent's response; True if the caller had heard some of it."""
        raise NotImplementedError

    def interruptible(self) -> bool:
        """False while the agent says something the caller may not talk over."""
        raise NotImplementedError

    def caller_active(self) -> None:
        """The caller made a sound (the call's inactivity clock starts over)."""
        raise NotImplementedError

    def user_turn(
        self,
        text: str,
        timing: TurnTiming,
        now: float,
        medium: Medium = "voice",
        *,
        answer: bool = True,
    ) -> None:
        raise NotImplementedError

    def next_turn(self) -> int:
        raise NotImplementedError


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
    ) -> None:
        """`agent` is the core behind a weak proxy: nothing of a session points back at its
        owner, so it forms no reference cycle (see `engine/status.py`)."""
        self.settings = settings
        self.detector = detector
        self._recognition_timeout = recognition_timeout_s
        self._out = out
        self._agent = agent
        self._set_state = status.set_state
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
        if manual and not was_manual:
            if self.phase is not CallerPhase.RECOGNISING:
                self._forget()
                self._open_buffer(now)
        elif was_manual and not manual:  # the VAD decides again, from a fresh start
            if self.phase is CallerPhase.RECOGNISING:
                self.detector.reset()
            else:
                self._drop()

    def _open_buffer(self, now: float) -> None:
        """Client-ended turns: the next turn starts now, heard in full."""
        if self.turn_taking.auto_end or self.utterance is not None:
            return
        utterance = Utterance(self._next_id, now, interrupting=False, confirmed=True)
        self._next_id += 1
        self.utterance = utterance
        self.phase = CallerPhase.SPEAKING
        self._out.add(BeginRecognition(utterance.id))  # with what was said since the commit
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
        for probability, end in event.results:
            signal = self.detector.frame(probability, end)
            if signal is not None:
                self._signal(signal, now)

    def _signal(self, signal: Signal, now: float) -> None:
        utterance = self.utterance
        if not self.turn_taking.auto_end:  # the client ends turns: the VAD only says
            if isinstance(signal, SpeechStarted):  # the caller is there
                self._agent.caller_active()
            return
        if isinstance(signal, SpeechStarted):
            self._onset(signal, now)
        elif utterance is None:
            return
        elif isinstance(signal, SilenceStarted) and self.phase is CallerPhase.SPEAKING:
            self.phase = CallerPhase.PAUSED
            utterance.ended_at = signal.at
            if self.turn_taking.auto_end:  # else the client ends the turn (`commit`)
                endpoint_at = signal.at + self.settings.endpoint_ms / 1000
                self._out.arm("endpoint", utterance.id, endpoint_at)
            self._out.add(PauseRecognition(utterance.id))
        elif isinstance(signal, SpeechResumed) and self.phase is CallerPhase.PAUSED:
            self.phase = CallerPhase.SPEAKING
            utterance.ended_at = None
            self._out.disarm("endpoint", utterance.id)
            self._out.add(ResumeRecognition(utterance.id))

    def _onset(self, signal: SpeechStarted, now: float) -> None:
        self._forget()  # an earlier utterance still awaiting its transcript is superseded
        self._agent.caller_active()
        busy = self._agent.busy()
        utterance = Utterance(self._next_id, signal.at, interrupting=busy, confirmed=not busy)
        self._next_id += 1
        self.utterance = utterance
        self.phase = CallerPhase.SPEAKING
        self._out.add(BeginRecognition(utterance.id))
        if busy and not self._agent.interruptible():
            return  # talking over an uninterruptible agent: dropped at its endpoint
        if busy and not self.turn_taking.barge_in:  # heard, and answered after the agent
            utterance.confirmed = True
            self._out.emit(UserStartedSpeaking())
            return
        if not busy:
            self._out.emit(UserStartedSpeaking())
            self._set_state("listening")
            return
        barge_at = signal.at + self.settings.min_interruption_ms / 1000
        if barge_at <= now:
            self._barge_in(utterance, now)
        else:
            self._out.arm("barge_in", utterance.id, barge_at)

    def barge_in_due(self, utterance_id: int, now: float) -> None:
        """The speech over the agent has lasted long enough, if it is still going on."""
        utterance = self.utterance
        if (
            utterance is not None
            and utterance.id == utterance_id
            and self.phase is CallerPhase.SPEAKING
            and self._agent.interruptible()  # a firm response began since: not a barge-in
        ):
            self._barge_in(utterance, now)

    def _barge_in(self, utterance: Utterance, now: float) -> None:
        utterance.confirmed = True
        self._out.emit(UserStartedSpeaking())
        if self._agent.barge_in(now):
            self._out.emit(Interrupted())
        self._set_state("listening")

    def commit(self, now: float) -> None:
        """The client ends the caller's turn now: what was said counts, however short the
        silence after it, even over the agent."""
        utterance = self.utterance
        if self.phase is CallerPhase.RECOGNISING and not self.turn_taking.auto_end:
            self._commit_owed = True  # the next buffer opens at the transcript: commit it then
            return
        if utterance is None or not self.mid_speech:
            self._out.emit(UserStoppedSpeaking(speech=False))
            return
        self._out.disarm("endpoint", utterance.id)
        self._out.disarm("barge_in", utterance.id)
        utterance.confirmed = True
        if utterance.ended_at is None:
            utterance.ended_at = now
        self.endpoint(utterance.id, now, committed=True)

    def discard(self, now: float) -> None:
        """The client drops what the caller has said since the last turn."""
        if self.utterance is not None and self.phase is not CallerPhase.RECOGNISING:
            self._drop()
            self._idle("listening")
        self._open_buffer(now)

    def endpoint(self, utterance_id: int, now: float, *, committed: bool = False) -> None:
        """The caller's silence lasted `endpoint_ms` (or the client `committed`, and then
        however short it was): the turn is over."""
        utterance = self.utterance
        if utterance is None or utterance.id != utterance_id or not self.mid_speech:
            return
        self.detector.end_turn()
        utterance.endpoint_at = now
        short = not committed and utterance.duration_ms() < self.settings.min_turn_ms
        if not utterance.confirmed or short:
            self._drop()
            self._idle("listening")
            return
        self.phase = CallerPhase.RECOGNISING
        self._out.emit(UserStoppedSpeaking())
        self._out.add(FinishRecognition(utterance.id))
        self._out.arm("recognition", utterance.id, now + self._recognition_timeout)
        self._idle("thinking")

    def transcription(self, result: Transcription, now: float) -> None:
        utterance = self.utterance
        if utterance is None or utterance.id != result.utterance:
            return
        if not result.final:
            utterance.partial = result.text
            self._out.emit(
                Transcript("user", result.text, final=False, turn=self._agent.next_turn())
            )
            return
        if self.phase is not CallerPhase.RECOGNISING or utterance.endpoint_at is None:
            return  # a final before the endpoint (a streaming provider's own): wait for ours
        self._out.disarm("recognition", utterance.id)
        self.utterance = None
        self.phase = CallerPhase.QUIET
        text = result.text.strip()
        if not text:
            self._out.emit(NothingHeard())  # its end was told: so is its outcome
            self._set_state("listening")
            self._open_buffer(now)  # client-ended turns: the next one is heard from now on
            return
        ended = utterance.ended_at if utterance.ended_at is not None else utterance.endpoint_at
        timing = TurnTiming(
            turn_end=ended,
            endpoint_ms=round((utterance.endpoint_at - ended) * 1000, 1),
            stt_ms=round((now - utterance.endpoint_at) * 1000, 1),
            stt_fallback=result.fallback,
        )
        self._agent.user_turn(text, timing, now, answer=self.turn_taking.answer)
        self._open_buffer(now)

    def recognition_failed(self, event: RecognitionFailed, now: float) -> None:
        utterance = self.utterance
        if utterance is not None and utterance.id == event.utterance:
            self._drop()
        self._out.emit(Failure("stt_error", f"speech recognition failed: {event.error}", False))
        self._idle("listening")
        self._open_buffer(now)

    def recognition_overdue(self, utterance_id: int, now: float) -> None:
        utterance = self.utterance
        if utterance is None or utterance.id != utterance_id:
            return
        log.warning("no transcript for utterance %s in time; dropping the turn", utterance_id)
        self._drop()
        self._out.emit(Failure("stt_timeout", "speech recognition did not answer in time", False))
        self._idle("listening")
        self._open_buffer(now)

    def close(self) -> None:
        self._forget()

    def _drop(self) -> None:
        """Forget the current utterance and start listening afresh."""
        self._forget()
        self.detector.reset()

    def _forget(self) -> None:
        utterance = self.utterance
        if utterance is None:
            return
        for kind in _UTTERANCE_TIMERS:
            self._out.disarm(kind, utterance.id)
        self._out.add(AbandonRecognition(utterance.id))
        self.utterance = None
        self.phase = CallerPhase.QUIET

    def _idle(self, state: State) -> None:
        """Show the caller's side of the state, unless the agent is busy with a response."""
        if not self._agent.busy():
            self._set_state(state)
