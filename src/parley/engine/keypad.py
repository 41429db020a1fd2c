"""Keys the caller presses on a phone's keypad (DTMF), gathered into turns.

A caller answering "press 1 for sales" presses one key; one entering an account number
presses several in a row. Each key is not a turn of its own (the agent would answer "1",
then "12"…): the keys of a burst are gathered and become one typed user turn,
`[pressed 1234#]`, when `#` is pressed, when `MAX_KEYS` have been pressed, or when
`GAP_S` passes without another key. The model reads that text; the transcript keeps it.

Invariants: the gap is one engine timer (`keypad`, key = the burst's number), re-armed at
every key, so a late firing from an earlier burst is stale by rule; a burst's keys are said
exactly once. Functions of (core, event, now), like `tool_answers`: the core's table calls
them and the state they change is the core's `keypad`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from parley.engine.events import KeyPress, Notice
from parley.engine.response import TurnTiming

if TYPE_CHECKING:
    from parley.engine.core import SessionCore

KEYS = frozenset("0123456789*#ABCD")
GAP_S = 1.0  # a pause this long ends a burst: long enough to find the next key, short
# enough that a single "press 1" is answered within about a second
MAX_KEYS = 32
END_KEY = "#"


@dataclass
class Keypad:
    """The burst being gathered: its number (the timer's key) and its keys."""

    burst: int = 0
    keys: str = ""


def pressed(core: SessionCore, event: KeyPress, now: float) -> None:
    digit = event.digit.upper()
    if digit not in KEYS:
        core.out.emit(Notice("invalid_key", f"not a keypad key: {event.digit[:8]!r}"))
        return
    pad = core.keypad
    if not pad.keys:
        pad.burst += 1
    pad.keys += digit
    if digit == END_KEY or len(pad.keys) >= MAX_KEYS:
        _say(core, now)
    else:
        core.out.arm("keypad", pad.burst, now + GAP_S)


def gap_over(core: SessionCore, burst: int, now: float) -> None:
    if burst == core.keypad.burst:
        _say(core, now)


def _say(core: SessionCore, now: float) -> None:
    pad = core.keypad
    keys, pad.keys = pad.keys, ""
    core.out.disarm("keypad", pad.burst)
    if keys and core.ending is None:
        core.user_turn(f"[pressed {keys}]", TurnTiming(now), now, "text")
