"""One timer table for every timed decision of a session, and the rule that makes late
firings harmless.

Each timer has a kind and a key (an utterance id, a response id, a tool call id) and gets a
fresh generation every time it is armed. The core arms and cancels timers as effects; the
shell sets a real timer for each `ArmTimer` and, when it goes off, feeds
`TimerFired(kind, key, generation)` back in. The core acts on a firing only if that exact
generation is still armed, and disarms it as it does:

- a timer cancelled (or re-armed) after its firing was queued is dropped, whatever sits
  ahead of it in the inbox, so cancelling the real timer is only an optimisation;
- a timer fires at most once;
- a firing from an earlier session state (a finished utterance, a cancelled response) can
  never be mistaken for a current one, even when keys repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TimerKind = Literal[
    "endpoint",  # the caller's silence has lasted `endpoint_ms`: the turn is over
    "turn_check",  # the caller's silence is long enough to ask the end-of-turn model
    "barge_in",  # speech over the agent has lasted long enough to barge in
    "recognition",  # the final transcript is overdue
    "pace",  # the next bunch of agent audio frames is due
    "played_out",  # the caller's player has played the whole response
    "tool_timeout",  # a tool call did not answer in time
    "opening",  # the opening's delay is over (cancelled if the caller speaks first)
    "max_duration",  # the call has lasted as long as it may (key 1: the closing line's backstop)
    "inactivity",  # the caller has been quiet long enough for the next inactivity prompt
    "keypad",  # no key pressed for a while: the digits so far are the caller's turn
]
TimerKey = int | str


@dataclass(frozen=True, slots=True)
class ArmTimer:
    kind: TimerKind
    key: TimerKey
    generation: int
    at: float  # loop time


@dataclass(frozen=True, slots=True)
class CancelTimer:
    kind: TimerKind
    key: TimerKey


@dataclass(frozen=True, slots=True)
class TimerFired:
    kind: TimerKind
    key: TimerKey
    generation: int


class TimerTable:
    """The armed timers: (kind, key) → generation. Pure: no clock, no loop."""

    def __init__(self) -> None:
        self._armed: dict[tuple[TimerKind, TimerKey], int] = {}
        self._generation = 0

    def arm(self, kind: TimerKind, key: TimerKey, at: float) -> ArmTimer:
        """Arm (or re-arm: the earlier generation becomes stale) a timer."""
        self._generation += 1
        self._armed[(kind, key)] = self._generation
        return ArmTimer(kind, key, self._generation, at)

    def cancel(self, kind: TimerKind, key: TimerKey) -> CancelTimer | None:
        """Disarm a timer; None if it was not armed (nothing for the shell to do)."""
        if self._armed.pop((kind, key), None) is None:
            return None
        return CancelTimer(kind, key)

    def accept(self, fired: TimerFired) -> bool:
        """True (and disarmed) if this firing is the armed generation; False if stale."""
        key = (fired.kind, fired.key)
        if self._armed.get(key) != fired.generation:
            return False
        del self._armed[key]
        return True

    def armed(self, kind: TimerKind, key: TimerKey) -> bool:
        return (kind, key) in self._armed

    def clear(self) -> list[CancelTimer]:
        """Disarm everything (the session is ending)."""
        cancels = [CancelTimer(kind, key) for kind, key in self._armed]
        self._armed.clear()
        return cancels
