"""Where each engine timer goes when it fires.

Every timer lives in the outbox's `TimerTable` under a kind and a key (a response, an
utterance, a tool call, a burst of keys…). A firing is first checked against the table: one
cancelled or re-armed after it was set off is stale and dropped by rule, before any part of
the core sees it. A live one goes to the part that owns its kind. A function of (core,
event, now), like `keypad` and `tool_answers`: the core's handler table calls it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from parley.engine import barge_in, end_of_turn, keypad, tool_answers
from parley.engine.timers import TimerFired

if TYPE_CHECKING:
    from parley.engine.core import SessionCore


def fired(core: SessionCore, event: TimerFired, now: float) -> None:
    if not core.out.timers.accept(event):
        return  # cancelled or re-armed after it was set off: stale by rule
    kind, key = event.kind, event.key
    if kind == "pace":
        core.responding.pace(now)
    elif kind == "tool_timeout":
        tool_answers.timed_out(core, str(key), now)
    elif kind == "played_out":
        finished = core.responding.played_out(int(key), now)
        if finished is not None:
            core.response_finished(finished)
    elif kind == "endpoint":
        core.hearing.endpoint(int(key), now)
    elif kind == "turn_check":
        end_of_turn.due(core.hearing, int(key), now)
    elif kind == "barge_in":
        barge_in.due(core.hearing, int(key), now)
    elif kind == "recognition":
        core.hearing.recognition_overdue(int(key), now)
    elif kind == "opening":
        if core.responding.current is None and not core.lifecycle.closing:
            core.opening(now)  # else the agent is already speaking: no greeting over it
    elif kind == "keypad":
        keypad.gap_over(core, int(key), now)
    elif kind == "inactivity":
        core.lifecycle.prompt_due(int(key), core.responding, core.turn, now)
    elif kind == "max_duration":
        reason = core.lifecycle.limit_reached(int(key), core.responding, core.turn, now)
        if reason is not None:
            core.end(reason)
