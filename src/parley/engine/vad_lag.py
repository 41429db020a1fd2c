"""Silence timers wait for a lagging VAD.

The end of a turn is timed on the wall clock (`endpoint`, `turn_check`: so long after the
caller's speech ended), but the silence it measures is the VAD's, and the VAD answers each
frame a little after it arrives: a few tens of milliseconds normally, much more when the
machine is starved (the Silero worker and the recogniser on the same two cores). A silence
timer that fires while the VAD still owes answers for audio that came before it would decide
on stale knowledge: the caller may have spoken again ("…how long the delivery takes | to the
city centre") and the answers that say so are still on their way. Measured in the demo under
load: the turn ended at "takes?" and the rest became a second turn.

So the shell holds such a timer back while the oldest unanswered frame is older than
`LAG_S` (well above the normal lag, so an unloaded server's endpoints are not delayed), and
hands it to the core once the VAD has answered the audio that came before it fired, after
those answers: if they say the caller spoke again, the core has re-armed or disarmed the
timer and drops the held one as stale, by rule. A timer is held `MAX_WAIT_S` at most (a VAD
that stopped answering must not stop turns from ending). Pure: the shell tells it the lag
and the time.
"""

from __future__ import annotations

from parley.engine.timers import TimerFired

SILENCE_TIMERS = frozenset({"endpoint", "turn_check"})
LAG_S = 0.1
MAX_WAIT_S = 1.0


class LagGate:
    def __init__(self) -> None:
        self._held: list[tuple[TimerFired, float]] = []  # with when each fired

    @property
    def holding(self) -> bool:
        return bool(self._held)

    def admit(self, fired: TimerFired, owed_since: float | None, now: float) -> bool:
        """Whether a firing goes to the core now; if not, it is held (see `release`).
        `owed_since`: when the oldest frame the VAD has not answered ended (None: it owes
        nothing)."""
        if fired.kind not in SILENCE_TIMERS:
            return True
        if not self._held and (owed_since is None or now - owed_since <= LAG_S):
            return True
        self._held.append((fired, now))  # behind any held before it: order is kept
        return False

    def release(self, owed_since: float | None, now: float) -> list[TimerFired]:
        """The held firings to hand to the core now, in the order they fired: each once
        the VAD has answered what came `LAG_S` before it fired, or once held `MAX_WAIT_S`
        (and any held before it)."""
        count = 0
        for index, (_, fired_at) in enumerate(self._held):
            caught_up = owed_since is None or owed_since > fired_at - LAG_S
            if caught_up or now - fired_at >= MAX_WAIT_S:
                count = index + 1
        released = [fired for fired, _ in self._held[:count]]
        del self._held[:count]
        return released
