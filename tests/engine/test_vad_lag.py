"""`LagGate`: silence timers held while the VAD owes answers for audio older than LAG_S."""

from __future__ import annotations

from parley.engine.timers import TimerFired
from parley.engine.vad_lag import LAG_S, MAX_WAIT_S, LagGate

ENDPOINT = TimerFired("endpoint", 1, 1)
CHECK = TimerFired("turn_check", 1, 2)
PACE = TimerFired("pace", 1, 3)


def test_with_the_vad_on_time_every_timer_goes_at_once() -> None:
    gate = LagGate()
    assert gate.admit(ENDPOINT, None, 10.0)
    assert gate.admit(CHECK, 10.0 - LAG_S / 2, 10.0)  # a frame in flight, as usual
    assert not gate.holding


def test_only_silence_timers_wait_for_the_vad() -> None:
    assert LagGate().admit(PACE, 9.0, 10.0)


def test_a_held_timer_goes_once_the_vad_has_answered_what_came_before_it() -> None:
    gate = LagGate()
    assert not gate.admit(ENDPOINT, 9.6, 10.0)  # owed since 9.6: 400 ms behind
    assert gate.release(9.7, 10.1) == []  # still owes audio from before it fired
    assert gate.release(9.95, 10.4) == [ENDPOINT]  # what it still owes came after
    assert not gate.holding


def test_held_timers_keep_their_order_and_a_later_one_waits_behind() -> None:
    gate = LagGate()
    assert not gate.admit(CHECK, 9.6, 10.0)
    assert not gate.admit(ENDPOINT, 10.45, 10.5)  # the VAD is on time again, but CHECK waits
    assert gate.release(None, 10.6) == [CHECK, ENDPOINT]


def test_a_vad_that_stopped_answering_holds_a_timer_no_longer_than_max_wait() -> None:
    gate = LagGate()
    assert not gate.admit(ENDPOINT, 9.0, 10.0)
    assert gate.release(9.0, 10.0 + MAX_WAIT_S / 2) == []
    assert gate.release(9.0, 10.0 + MAX_WAIT_S) == [ENDPOINT]
