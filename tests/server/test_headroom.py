"""Admission control's rule, on a fake timeline: a process refuses a new call at its cap,
when its loop is busy (projecting the calls still ramping up) or late, and admits again
once the load falls; the rule is monotone (more load never turns a refusal into a yes)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from parley.server.headroom import RAMP_S, Headroom, HostCpu


def settled(busy: float, sessions: int, lag_ms: float = 0.0, host: float | None = None) -> Headroom:
    """A headroom that has seen `busy`, `lag_ms` and `host` for long enough to believe them."""
    headroom = Headroom(busy_limit=0.8, lag_limit_ms=60, host_limit=0.9, cores=2)
    for tick in range(600):  # a minute of samples: the averages have converged
        headroom.observe(busy, lag_ms, sessions, elapsed_s=0.1, now=tick / 10, host=host)
    return headroom


NOW = 60.0  # when `settled` ends


def test_an_idle_process_admits() -> None:
    assert settled(0.05, 3).refusal(3, now=0.0) is None


def test_a_configured_cap_refuses_at_the_cap() -> None:
    headroom = Headroom(max_sessions=2)
    assert headroom.refusal(1, now=0.0) is None
    assert "maximum of 2" in (headroom.refusal(2, now=0.0) or "")


def test_a_busy_loop_refuses_and_admits_again_when_load_falls() -> None:
    headroom = settled(0.85, 100)
    assert "at capacity" in (headroom.refusal(100, now=0.0) or "")
    for tick in range(40):
        headroom.observe(0.4, 0.0, 50, elapsed_s=0.1, now=NOW + tick / 10)
    assert headroom.refusal(50, now=NOW + 4) is None


def test_calls_still_ramping_up_count_before_their_load_shows() -> None:
    headroom = settled(0.6, 20)  # 3 % of the loop per call: room for about six more
    admitted = 0
    while headroom.refusal(20 + admitted, now=NOW) is None:
        headroom.admitted(NOW)
        admitted += 1
    assert 4 <= admitted <= 7  # a burst: none of them shows yet
    assert headroom.refusal(20 + admitted, now=NOW + RAMP_S) is None  # the load would show


def test_a_burst_of_joins_does_not_teach_a_false_cost_per_call() -> None:
    headroom = settled(0.3, 50)  # 0.6 % a call
    for tick in range(20):  # joins keep the loop busy while they ramp up
        headroom.admitted(NOW + tick / 10)
        headroom.observe(0.95, 0.0, 51 + tick, elapsed_s=0.1, now=NOW + tick / 10)
    assert headroom.loop.cost is not None and abs(headroom.loop.cost - 0.006) < 0.0005


def test_a_late_loop_refuses_even_when_it_is_not_busy() -> None:
    headroom = settled(0.2, 40, lag_ms=150)  # the machine's cores are taken by others
    assert "late" in (headroom.refusal(40, now=0.0) or "")


def test_a_host_whose_cores_are_taken_refuses_although_the_loop_has_room() -> None:
    headroom = settled(0.3, 60, host=0.95)  # the VAD worker and others hold the cores
    assert "host's CPU" in (headroom.refusal(60, now=NOW) or "")
    assert headroom.reading(60, now=NOW).host_busy == 0.95


def test_the_host_share_projects_the_calls_still_ramping_up() -> None:
    headroom = settled(0.2, 40, host=0.7)  # 1.75 % of the host per call: room for ~11
    admitted = 0
    while headroom.refusal(40 + admitted, now=NOW) is None:
        headroom.admitted(NOW)
        admitted += 1
    assert 9 <= admitted <= 12
    assert headroom.capacity() == 51  # the host, not the loop (160), is what runs out


def test_a_host_that_cannot_be_read_leaves_the_loop_to_decide() -> None:
    headroom = settled(0.3, 60, host=None)
    assert headroom.refusal(60, now=NOW) is None
    assert headroom.reading(60, now=NOW).host_busy == 0.0


def test_the_host_reading_is_a_share_of_its_cores() -> None:
    cpu = HostCpu()
    sum(i * i for i in range(200_000))  # a little work between the two readings
    busy = cpu.busy()
    assert busy is not None and 0.0 <= busy <= 1.0


def test_turned_off_it_admits_everything() -> None:
    headroom = settled(1.0, 500, lag_ms=900)
    headroom.enabled = False
    assert headroom.refusal(500, now=0.0) is None


def test_the_measured_capacity_follows_the_cost_per_call() -> None:
    assert settled(0.4, 50).capacity() == 100  # 0.8 % of the loop each, 80 % limit
    assert settled(0.4, 2).capacity() is None  # too few calls to tell


load = st.floats(0, 1)
calls = st.integers(0, 400)


@given(load, load, load, load, calls, st.integers(0, 20))
def test_more_load_never_turns_a_refusal_into_an_admission(
    busy: float, more: float, host: float, more_host: float, sessions: int, ramping: int
) -> None:
    lower = settled(busy, sessions, host=host)
    higher = settled(max(busy, more), sessions, host=max(host, more_host))
    for headroom in (lower, higher):
        for _ in range(ramping):
            headroom.admitted(NOW)
    if lower.refusal(sessions, now=NOW) is not None:
        assert higher.refusal(sessions, now=NOW) is not None
