"""Admission control: does this process have room for one more call?

A process that accepts every caller lets all of them degrade once it is past its capacity
(the benchmark measured a third of replies missing at 3x). So each process watches its own
headroom and refuses new joins *before* the calls it holds suffer:

- `max_sessions` (`PARLEY_MAX_SESSIONS`, per process), when configured, is a hard cap;
- the event loop's busy share (CPU time of the loop's thread per second of wall time,
  smoothed): every session's frames pass through it, so when it nears `busy_limit` the
  next call would add latency to all of them. The cost of one session (learned while no
  session is ramping up) projects what the sessions admitted recently will add beyond
  what the average shows already (a session admitted `a` seconds ago is
  `exp(-a / SMOOTHING_S)` unseen), so a burst of callers is not all admitted before the
  first of them shows its load;
- the loop's lag (how late a 100 ms sleep wakes, smoothed): a loop that is descheduled
  (the machine's cores are taken) is as full as a busy one.

`Headroom` is pure (fed samples and the clock, asked for a verdict) so its rule is tested
on a fake timeline; `watch` is the thin task that samples the running loop.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

RAMP_S = 6.0  # past this, a session's load is in the average (e^-4: 2 % unseen)
SMOOTHING_S = 1.5  # time constant of the busy and lag averages
COST_SMOOTHING_S = 10.0  # time constant of the learned cost of one session
MIN_SESSIONS_TO_MEASURE = 5  # below this, the cost per session is noise
# A session's share of the loop before one has been measured: the standard benchmark's
# (docs/benchmarks.md) rounded up, so an unmeasured process errs on the side of refusing.
PRIOR_COST = 0.006
SAMPLE_S = 0.1


@dataclass(frozen=True)
class Reading:
    """What an operator (and `/readyz`) sees."""

    sessions: int
    capacity: int | None  # the cap, or the measured estimate; None until measurable
    loop_busy: float  # 0..1
    loop_lag_ms: float
    refusing: str | None  # why new calls are refused now, or None


class Headroom:
    def __init__(
        self,
        *,
        max_sessions: int = 0,
        busy_limit: float = 0.75,
        lag_limit_ms: float = 60.0,
        enabled: bool = True,
    ) -> None:
        self.max_sessions = max_sessions
        self.busy_limit = busy_limit
        self.lag_limit_ms = lag_limit_ms
        self.enabled = enabled
        self.busy = 0.0
        self.lag_ms = 0.0
        self.cost: float | None = None  # one session's share of the loop, learned when steady
        self._recent: deque[float] = deque()  # admission times within RAMP_S

    def observe(
        self, busy: float, lag_ms: float, sessions: int, elapsed_s: float, now: float
    ) -> None:
        """A sample: the loop's busy share and lag over the last `elapsed_s` seconds. The
        cost of a session is learned only while few are ramping up (calls arriving now and
        then, not a burst): joining is work too, and a burst of joins would make every
        session look expensive."""
        weight = min(1.0, elapsed_s / SMOOTHING_S)
        self.busy += (min(1.0, max(0.0, busy)) - self.busy) * weight
        self.lag_ms += (max(0.0, lag_ms) - self.lag_ms) * weight
        unseen = self.unseen(now)
        seen = sessions - unseen
        if seen >= MIN_SESSIONS_TO_MEASURE and unseen <= max(1.0, 0.05 * sessions):
            sample = self.busy / seen
            cost_weight = min(1.0, elapsed_s / COST_SMOOTHING_S)
            self.cost = (
                sample if self.cost is None else self.cost + (sample - self.cost) * cost_weight
            )

    def admitted(self, now: float) -> None:
        self._recent.append(now)

    def unseen(self, now: float) -> float:
        """How many sessions' load the smoothed average does not show yet."""
        while self._recent and self._recent[0] <= now - RAMP_S:
            self._recent.popleft()
        return sum(math.exp(-(now - at) / SMOOTHING_S) for at in self._recent)

    def capacity(self) -> int | None:
        """The cap, or the calls the loop would hold at `busy_limit` at the learned cost."""
        estimate = int(self.busy_limit / self.cost) if self.cost else None
        if self.max_sessions and (estimate is None or estimate > self.max_sessions):
            return self.max_sessions
        return estimate

    def refusal(self, sessions: int, now: float) -> str | None:
        """Why one more session would be refused now (None: admit it)."""
        if not self.enabled:
            return None
        if self.max_sessions and sessions >= self.max_sessions:
            return f"this server holds its maximum of {self.max_sessions} calls"
        if sessions < MIN_SESSIONS_TO_MEASURE:
            return None  # a process always takes its first calls: there are none to protect
        if self.lag_ms > self.lag_limit_ms:
            return f"this server is overloaded (its event loop runs {self.lag_ms:.0f} ms late)"
        cost = self.cost if self.cost is not None else PRIOR_COST
        projected = self.busy + cost * (self.unseen(now) + 1)
        if projected > self.busy_limit:
            return f"this server is at capacity ({sessions} calls, {self.busy:.0%} busy)"
        return None

    def reading(self, sessions: int, now: float) -> Reading:
        return Reading(
            sessions=sessions,
            capacity=self.capacity(),
            loop_busy=round(self.busy, 3),
            loop_lag_ms=round(self.lag_ms, 1),
            refusing=self.refusal(sessions, now),
        )


async def watch(
    headroom: Headroom,
    sessions: Callable[[], int],
    on_sample: Callable[[float, float], None] = lambda lag_s, busy: None,
    interval: float = SAMPLE_S,
) -> None:
    """Sample the running loop forever (a task; cancel it to stop). `time.thread_time` is
    the CPU time of this thread, the loop's: the share of wall time it was busy."""
    loop = asyncio.get_running_loop()
    while True:
        wall, cpu = loop.time(), time.thread_time()
        await asyncio.sleep(interval)
        elapsed = loop.time() - wall
        lag = max(0.0, elapsed - interval)
        busy = (time.thread_time() - cpu) / elapsed
        headroom.observe(busy, lag * 1000, sessions(), elapsed, loop.time())
        on_sample(lag, headroom.busy)
