"""Admission control: does this process have room for one more call?

A process that accepts every caller lets all of them degrade once it is past its capacity
(the benchmark measured a third of replies missing at 3x). So each process watches its own
headroom and refuses new joins *before* the calls it holds suffer:

- `max_sessions` (`PARLEY_MAX_SESSIONS`, per process), when configured, is a hard cap;
- two gauges, each a smoothed share of a resource every call uses:
  - the event loop's busy share (CPU time of the loop's thread per second of wall time):
    every session's frames pass through it, so near `busy_limit` the next call would add
    latency to all of them;
  - the host's CPU (share of all its cores busy, steal included): the loop is not the only
    thing a call needs (the VAD worker, the codecs' threads, and on a shared machine other
    processes), and a loop with spare time still runs late when the cores are taken.
  Each gauge learns the cost of one session (while no session is ramping up) and projects
  what the sessions admitted recently will add beyond what its average shows already (a
  session admitted `a` seconds ago is `exp(-a / SMOOTHING_S)` unseen), so a burst of
  callers is not all admitted before the first of them shows its load;
- the loop's lag (how late a 100 ms sleep wakes, smoothed): a loop that is descheduled is as
  full as a busy one.

`Headroom` is pure (fed samples and the clock, asked for a verdict) so its rule is tested
on a fake timeline; `watch` is the thin task that samples the running loop and the host.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

RAMP_S = 6.0  # past this, a session's load is in the average (e^-4: 2 % unseen)
SMOOTHING_S = 1.5  # time constant of the gauges and the lag average
COST_SMOOTHING_S = 10.0  # time constant of the learned cost of one session
MIN_SESSIONS_TO_MEASURE = 5  # below this, the cost per session is noise
# A session's share of the loop before one has been measured: the standard benchmark's
# (docs/benchmarks.md) rounded up, so an unmeasured process errs on the side of refusing.
PRIOR_COST = 0.006
# ... and of one core of the host: the loop's, the VAD worker's and the callers' own share.
PRIOR_HOST_COST = 0.012
SAMPLE_S = 0.1


@dataclass
class Gauge:
    """A smoothed share (0..1) of one resource, and the learned cost of one session."""

    limit: float
    prior: float  # the cost of a session until one has been learned
    busy: float = 0.0
    cost: float | None = None

    def observe(self, busy: float, weight: float) -> None:
        self.busy += (min(1.0, max(0.0, busy)) - self.busy) * weight

    def learn(self, seen: float, weight: float) -> None:
        sample = self.busy / seen
        self.cost = sample if self.cost is None else self.cost + (sample - self.cost) * weight

    def full(self, unseen: float) -> bool:
        """Whether one more session, with the ones still ramping up, passes the limit."""
        cost = self.prior if self.cost is None else self.cost
        return self.busy + cost * (unseen + 1) > self.limit

    def capacity(self) -> int | None:
        return int(self.limit / self.cost) if self.cost else None


@dataclass(frozen=True)
class Reading:
    """What an operator (and `/readyz`) sees."""

    sessions: int
    capacity: int | None  # the cap, or the measured estimate; None until measurable
    loop_busy: float  # 0..1 of one core
    host_busy: float  # 0..1 of all the host's cores
    loop_lag_ms: float
    refusing: str | None  # why new calls are refused now, or None


@dataclass
class Headroom:
    max_sessions: int = 0
    busy_limit: float = 0.75
    lag_limit_ms: float = 60.0
    host_limit: float = 0.8
    enabled: bool = True
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    lag_ms: float = 0.0
    loop: Gauge = field(init=False)
    host: Gauge = field(init=False)
    _recent: deque[float] = field(init=False, default_factory=deque)  # admissions, RAMP_S

    def __post_init__(self) -> None:
        self.loop = Gauge(self.busy_limit, PRIOR_COST)
        self.host = Gauge(self.host_limit, PRIOR_HOST_COST / self.cores)

    def observe(
        self,
        busy: float,
        lag_ms: float,
        sessions: int,
        elapsed_s: float,
        now: float,
        host: float | None = None,
    ) -> None:
        """A sample over the last `elapsed_s` seconds: the loop's busy share and lag, and the
        host's busy share (None where it cannot be read). The cost of a session is learned
        only while few are ramping up (calls arriving now and then, not a burst): joining
        is work too, and a burst of joins would make every session look expensive."""
        weight = min(1.0, elapsed_s / SMOOTHING_S)
        self.loop.observe(busy, weight)
        if host is not None:
            self.host.observe(host, weight)
        self.lag_ms += (max(0.0, lag_ms) - self.lag_ms) * weight
        unseen = self.unseen(now)
        seen = sessions - unseen
        if seen >= MIN_SESSIONS_TO_MEASURE and unseen <= max(1.0, 0.05 * sessions):
            cost_weight = min(1.0, elapsed_s / COST_SMOOTHING_S)
            self.loop.learn(seen, cost_weight)
            if host is not None:
                self.host.learn(seen, cost_weight)

    def admitted(self, now: float) -> None:
        self._recent.append(now)

    def unseen(self, now: float) -> float:
        """How many sessions' load the smoothed averages do not show yet."""
        while self._recent and self._recent[0] <= now - RAMP_S:
            self._recent.popleft()
        return sum(math.exp(-(now - at) / SMOOTHING_S) for at in self._recent)

    def capacity(self) -> int | None:
        """The cap, or the calls the process would hold at its limits at the learned costs."""
        estimates = [c for c in (self.loop.capacity(), self.host.capacity()) if c is not None]
        estimate = min(estimates) if estimates else None
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
        unseen = self.unseen(now)
        if self.loop.full(unseen):
            return f"this server is at capacity ({sessions} calls, {self.loop.busy:.0%} busy)"
        if self.host.full(unseen):
            return f"this host's CPU is at capacity ({self.host.busy:.0%} of its cores busy)"
        return None

    def reading(self, sessions: int, now: float) -> Reading:
        return Reading(
            sessions=sessions,
            capacity=self.capacity(),
            loop_busy=round(self.loop.busy, 3),
            host_busy=round(self.host.busy, 3),
            loop_lag_ms=round(self.lag_ms, 1),
            refusing=self.refusal(sessions, now),
        )


class HostCpu:
    """The share of the host's cores busy since the last reading (steal counts as busy: a
    virtual machine's core that the hypervisor lent elsewhere is not ours to use)."""

    def __init__(self) -> None:
        self._last = self._times()

    @staticmethod
    def _times() -> tuple[float, float] | None:
        try:
            times = psutil.cpu_times()
        except (OSError, RuntimeError):  # no /proc (a locked-down container): no reading
            return None
        idle = times.idle + getattr(times, "iowait", 0.0)
        return sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0), idle

    def busy(self) -> float | None:
        now, last = self._times(), self._last
        self._last = now
        if now is None or last is None or now[0] <= last[0]:
            return None
        total, idle = now[0] - last[0], now[1] - last[1]
        return 1.0 - idle / total


async def watch(
    headroom: Headroom,
    sessions: Callable[[], int],
    on_sample: Callable[[float, Headroom], None] = lambda lag_s, headroom: None,
    interval: float = SAMPLE_S,
) -> None:
    """Sample the running loop and the host forever (a task; cancel it to stop).
    `time.thread_time` is the CPU time of this thread, the loop's: the share of wall time
    it was busy."""
    loop = asyncio.get_running_loop()
    host = HostCpu()
    while True:
        wall, cpu = loop.time(), time.thread_time()
        await asyncio.sleep(interval)
        elapsed = loop.time() - wall
        lag = max(0.0, elapsed - interval)
        busy = (time.thread_time() - cpu) / elapsed
        headroom.observe(busy, lag * 1000, sessions(), elapsed, loop.time(), host=host.busy())
        on_sample(lag, headroom)
