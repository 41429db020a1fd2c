"""Holding the agent's reply while the caller talks over it (`interruption: confirm`).

Speech over the agent pauses the current response at once: nothing more is sent, and where
the dialect can say so (`Plan.pause_clears`) the client drops what it has not played, which
the speaker takes back to send again. Then the speech decides: a backchannel or a noise
resumes the reply from where it paused (`resume`); words cut it, through
`Responding.cancel`, with the barge-in kept in its metrics. Functions of the `Responding`
whose current response they hold, as `end_of_turn` is of `Hearing`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from parley.engine.events import AgentPaused, AgentResumed, BargeInResolved
from parley.engine.measures import BargeIn
from parley.engine.response import PlayPhase

if TYPE_CHECKING:
    from parley.engine.responding import Responding


def hold(responding: Responding, now: float) -> float | None:
    """Pause the current response. Returns when the hold began, or None if there is no
    response to hold."""
    response = responding.current
    if response is None:
        return None
    if response.held_since is None:
        response.held_since = now
        responding.out.disarm("pace", response.id)
        responding.out.disarm("played_out", response.id)
        if response.play is not PlayPhase.SILENT:
            responding.speaker.hold(now, dropped=responding.plan.pause_clears)
            if responding.speaker.pacer.pending:  # taken back: it plays again once resumed
                response.play = PlayPhase.AUDIBLE
            responding.out.emit(AgentPaused(response.turn))
    return response.held_since


def resume(responding: Responding, now: float, resolved: BargeIn) -> None:
    """The speech over the agent did not take the turn: go on from where it paused."""
    response = responding.current
    if response is None or response.held_since is None:
        return
    response.held_since = None
    response.barge_ins.append(resolved)
    responding.out.emit(BargeInResolved(resolved))
    responding.speaker.release(now)  # audio that came during the hold plays from now
    if response.play is not PlayPhase.SILENT:
        responding.out.emit(AgentResumed(response.turn))
        responding.status.set_state("speaking")
    responding.pace(now)
    responding.maybe_finished(response)
