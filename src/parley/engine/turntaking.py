"""Whose turn it is: the caller's side of turn-taking, on behalf of the conversation actor.

Speech onset opens an utterance; while the agent is thinking or speaking it becomes a
barge-in only once it has lasted `min_interruption_ms` (shorter sounds over the agent are
ignored). Silence of `endpoint_ms` after speech ends the turn; the final transcript is then
awaited (bounded by `recognition_timeout_s`) and handed to the conversation as a user turn.

Runs inside the actor: every method is called from its handlers, none blocks.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from parley.engine.alarms import Alarms
from parley.engine.events import (
    Event,
    Failure,
    Interrupted,
    State,
    Transcript,
    UserStartedSpeaking,
)
from parley.engine.listening import Listener, Utterance
from parley.engine.plan import Plan
from parley.engine.responder import Responder
from parley.engine.response import TurnTiming
from parley.engine.turns import Signal, SilenceStarted, SpeechResumed, SpeechStarted
from parley.providers.base import Transcription

log = logging.getLogger("parley.engine")


class TurnTaking:
    def __init__(
        self,
        *,
        plan: Plan,
        listener: Listener,
        responder: Responder,
        alarms: Alarms,
        emit: Callable[[Event], None],
        set_state: Callable[[State], None],
        user_turn: Callable[[str, TurnTiming], Awaitable[None]],
        next_turn: Callable[[], int],
    ) -> None:
        self._plan = plan
        self._listener = listener
        self._responder = responder
        self._alarms = alarms
        self._emit = emit
        self._set_state = set_state
        self._user_turn = user_turn
        self._next_turn = next_turn

    async def vad(self, signal: Signal, now: float) -> None:
        utterance = self._listener.utterance
        if isinstance(signal, SpeechStarted):
            busy = self._responder.current is not None
            utterance = self._listener.begin(signal.at, interrupting=busy)
            if not busy:
                self._emit(UserStartedSpeaking())
                self._set_state("listening")
                return
            barge_at = signal.at + self._plan.vad.min_interruption_ms / 1000
            if barge_at <= now:
                await self._barge_in(utterance, now)
            else:
                self._alarms.set("barge_in", utterance.id, barge_at)
        elif isinstance(signal, SilenceStarted) and utterance is not None:
            utterance.ended_at = signal.at
            self._alarms.set(
                "endpoint", utterance.id, signal.at + self._plan.vad.endpoint_ms / 1000
            )
        elif isinstance(signal, SpeechResumed) and utterance is not None:
            utterance.ended_at = None
            self._alarms.cancel("endpoint", utterance.id)

    async def barge_in_due(self, utterance_id: int, now: float) -> None:
        """The speech over the agent has lasted long enough, if it is still going on."""
        utterance, detector = self._listener.utterance, self._listener.detector
        if (
            utterance is not None
            and utterance.id == utterance_id
            and detector.speaking
            and not detector.in_silence
        ):
            await self._barge_in(utterance, now)

    async def _barge_in(self, utterance: Utterance, now: float) -> None:
        utterance.confirmed = True
        self._emit(UserStartedSpeaking())
        if await self._responder.cancel(now):
            self._emit(Interrupted())
        self._set_state("listening")

    def end_of_turn(self, utterance_id: int, now: float) -> None:
        utterance = self._listener.utterance
        if utterance is None or utterance.id != utterance_id:
            return
        if self._listener.end_of_turn(now) is None:
            self._idle("listening")
            return
        self._alarms.set("recognition", utterance.id, now + self._plan.recognition_timeout_s)
        self._idle("thinking")

    async def transcription(self, result: Transcription, now: float) -> None:
        utterance = self._listener.utterance
        if utterance is None or utterance.id != result.utterance:
            return
        if not result.final:
            utterance.partial = result.text
            self._emit(Transcript("user", result.text, final=False, turn=self._next_turn()))
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
        await self._user_turn(
            text,
            TurnTiming(
                turn_end=ended,
                endpoint_ms=round((utterance.endpoint_at - ended) * 1000, 1),
                stt_ms=round((now - utterance.endpoint_at) * 1000, 1),
            ),
        )

    def recognition_failed(self, utterance_id: int, error: Exception) -> None:
        utterance = self._listener.utterance
        if utterance is not None and utterance.id == utterance_id:
            self._alarms.cancel("recognition", utterance.id)
            self._listener.utterance = None
        self._emit(Failure("stt_error", f"speech recognition failed: {error}", False))
        self._idle("listening")

    def recognition_overdue(self, utterance_id: int) -> None:
        utterance = self._listener.utterance
        if utterance is None or utterance.id != utterance_id:
            return
        log.warning("no transcript for utterance %s in time; dropping the turn", utterance_id)
        self._listener.drop()
        self._emit(Failure("stt_timeout", "speech recognition did not answer in time", False))
        self._idle("listening")

    def _idle(self, state: State) -> None:
        """Show the caller's side of the state, unless the agent is busy with a response."""
        if self._responder.current is None:
            self._set_state(state)
