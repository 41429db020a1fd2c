"""How speech over the agent is resolved: it takes the turn, or the agent goes on.

`Hearing` decides *when* (the `barge_in` timer, the words of the speech, its endpoint);
this says *what happens then*, in one place for every path: the agent stops for good
(`confirm`; its reply withdrawn if the speech continues the caller's turn) or resumes from
where it paused (`resume`), and under `interruption: confirm`
the pause it was held in is measured and reported as a `BargeIn`. Functions of the
`Hearing` (like `end_of_turn`), run inside one `SessionCore.handle` call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from parley.engine.events import Interrupted, UserStartedSpeaking
from parley.engine.measures import BargeIn, BargeInOutcome, BargeInReason
from parley.engine.utterance import CallerPhase, Utterance

if TYPE_CHECKING:
    from parley.engine.hearing import Hearing


def due(hearing: Hearing, utterance_id: int, now: float) -> None:
    """The speech over the agent has lasted long enough, if it is still going on."""
    utterance = hearing.utterance
    if (
        utterance is not None
        and utterance.id == utterance_id
        and hearing.phase is CallerPhase.SPEAKING
        and hearing.agent.interruptible()  # a firm response began since: not a barge-in
    ):
        confirm(hearing, utterance, now, "long")


def confirm(
    hearing: Hearing, utterance: Utterance, now: float, reason: BargeInReason = "long"
) -> None:
    """The speech over the agent takes the turn: the agent stops for good. Speech that
    began before the reply could mean anything continues the caller's turn instead of
    starting one, and the reply is withdrawn (`engine/continuation.py`)."""
    utterance.confirmed = True
    utterance.continues = hearing.agent.continues_turn(utterance.started_at)
    outcome: BargeInOutcome = "continued" if utterance.continues else "confirmed"
    resolved = _resolution(hearing, utterance, now, outcome, reason)
    utterance.held_since = None
    hearing.out.emit(UserStartedSpeaking())
    if hearing.agent.barge_in(now, resolved, withdraw=utterance.continues):
        hearing.out.emit(Interrupted())
    hearing.set_state("listening")


def resume(hearing: Hearing, utterance: Utterance, now: float, reason: BargeInReason) -> None:
    """The speech over the paused agent did not take the turn: the agent goes on."""
    resolved = _resolution(hearing, utterance, now, "resumed", reason)
    utterance.held_since = None
    if resolved is not None:
        hearing.agent.resume(now, resolved)


def _resolution(
    hearing: Hearing,
    utterance: Utterance,
    now: float,
    outcome: BargeInOutcome,
    reason: BargeInReason,
) -> BargeIn | None:
    if utterance.held_since is None:
        return None
    paused_ms = (now - utterance.held_since) * 1000
    return BargeIn(hearing.agent.held_turn(), outcome, reason, paused_ms, utterance.partial)
