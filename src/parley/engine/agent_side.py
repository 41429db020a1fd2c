"""What the caller's side of the core (`Hearing`) needs from the rest of it: the agent's
response, the turn count and the call's activity. `SessionCore` implements it; `Hearing`
holds it behind a weak proxy, so the parts of a session form no reference cycle.
"""

from __future__ import annotations

from parley.engine.events import Medium
from parley.engine.measures import BargeIn
from parley.engine.response import TurnTiming


class AgentSide:
    """What hearing needs from the rest of the core (implemented by `SessionCore`)."""

    def busy(self) -> bool:
        raise NotImplementedError

    def barge_in(
        self, now: float, resolved: BargeIn | None = None, *, withdraw: bool = False
    ) -> bool:
        """Cancel the agent's response; True if the caller had heard some of it.
        `resolved`: the response was paused for this speech (recorded with it). `withdraw`:
        the speech continues the caller's turn (`engine/continuation.py`): nothing of the
        response is kept, and the turn is owed an answer."""
        raise NotImplementedError

    def continues_turn(self, onset: float) -> bool:
        """Whether speech over the agent that began at `onset`, taking the turn, would
        continue the caller's latest turn rather than start a new one."""
        raise NotImplementedError

    def hold(self, now: float) -> float | None:
        """Pause the agent's response for speech over it; when the pause began (an earlier
        one still standing), or None if there is nothing to pause."""
        raise NotImplementedError

    def resume(self, now: float, resolved: BargeIn) -> None:
        """The speech over the agent did not take the turn: the paused response goes on."""
        raise NotImplementedError

    def held_turn(self) -> int:
        """The turn of the response that is paused (or last spoke)."""
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
        continues: bool = False,
    ) -> None:
        """The caller's turn, recognised (`continues`: their words go on with their latest
        turn, if it is still the last thing said)."""
        raise NotImplementedError

    def next_turn(self) -> int:
        raise NotImplementedError
