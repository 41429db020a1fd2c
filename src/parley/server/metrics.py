"""Prometheus metrics: per-turn latency, sessions, provider errors, event-loop lag.

The engine knows nothing of Prometheus: the host wraps each conversation's event stream in
`observe`, which records `TurnMetrics` and `Failure` events on the way to the dialect.
With several worker processes (`parley serve --workers N`), `PROMETHEUS_MULTIPROC_DIR` is
set and `/metrics` aggregates every worker's numbers.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator

import anyio.from_thread
from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from parley.engine.events import BargeInResolved, Event, Failure
from parley.engine.measures import TurnMetrics

LATENCY_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.1,
    0.2,
    0.3,
    0.4,
    0.5,
    0.6,
    0.8,
    1.0,
    1.25,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
)
LAG_BUCKETS = (
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.15,
    0.25,
    0.5,
    1.0,
)

TURN_SECONDS = Histogram(
    "parley_turn_latency_seconds",
    "Per-turn latency by component; `total` is end of the "
    "caller's speech to the first agent audio sent.",
    ["component"],
    buckets=LATENCY_BUCKETS,
)
SESSIONS_LIVE = Gauge(
    "parley_sessions_live", "Conversations running in this process.", multiprocess_mode="livesum"
)
SESSIONS_STARTED = Counter("parley_sessions_started_total", "Conversations started.", ["dialect"])
PROVIDER_ERRORS = Counter(
    "parley_provider_errors_total", "Provider failures seen by sessions.", ["code"]
)
ADMISSION_REFUSALS = Counter(
    "parley_admission_refusals_total",
    "Calls and sessions refused before they started, by why (busy, account_limit).",
    ["reason"],
)
SEMANTIC_FAILURES = Counter(
    "parley_knowledge_semantic_failures_total",
    "Knowledge searches answered by full text alone: the question could not be embedded.",
)
STT_FALLBACKS = Counter(
    "parley_stt_fallbacks_total",
    "Turns the light recogniser heard because the Whisper decoder was saturated.",
)
END_OF_TURN = Counter(
    "parley_end_of_turn_total",
    "Spoken turns by how their end was judged: mode (silence, semantic, client) and "
    "decided_by (silence, model, max_wait, fallback, commit).",
    ["mode", "decided_by"],
)
TURN_MODEL_SECONDS = Histogram(
    "parley_turn_model_seconds",
    "The end-of-turn model's compute per semantic turn, all its checks.",
    buckets=(0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0),
)
BARGE_INS = Counter(
    "parley_barge_ins_total",
    "Speech over a paused agent (interruption: confirm), by outcome (confirmed, continued, "
    "resumed) and reason (words, long, backchannel, noise, short, unheard).",
    ["outcome", "reason"],
)
LOOP_LAG = Histogram(
    "parley_event_loop_lag_seconds",
    "How late the event loop runs a timer (sampled every 100 ms).",
    buckets=LAG_BUCKETS,
)
LOOP_LAG_MAX = Gauge(
    "parley_event_loop_lag_max_seconds", "Largest event-loop lag seen.", multiprocess_mode="max"
)
LOOP_BUSY = Gauge(
    "parley_event_loop_busy_ratio",
    "Share of wall time the event loop's thread spent on the CPU (smoothed), per process.",
    multiprocess_mode="max",
)
HOST_BUSY = Gauge(
    "parley_host_cpu_busy_ratio",
    "Share of the host's cores busy, steal included (smoothed), as admission control sees it.",
    multiprocess_mode="max",
)

_COMPONENTS = ("endpoint_ms", "stt_ms", "llm_ttft_ms", "tts_ttfb_ms", "total_ms")


def observe(emit: Callable[[Event], None]) -> Callable[[Event], None]:
    def observed(event: Event) -> None:
        if isinstance(event, TurnMetrics):
            for component in _COMPONENTS:
                value = getattr(event, component)
                if value is not None:
                    TURN_SECONDS.labels(component.removesuffix("_ms")).observe(value / 1000)
            if event.stt_fallback:
                STT_FALLBACKS.inc()
            end = event.end_of_turn
            if end is not None:
                END_OF_TURN.labels(end.mode, end.decided_by).inc()
                if end.checks:
                    TURN_MODEL_SECONDS.observe(end.model_ms / 1000)
        elif isinstance(event, BargeInResolved):
            BARGE_INS.labels(event.barge_in.outcome, event.barge_in.reason).inc()
        elif isinstance(event, Failure):
            PROVIDER_ERRORS.labels(event.code).inc()
        emit(event)

    return observed


_worst_lag = 0.0


def observe_loop(lag: float, busy: float, host: float) -> None:
    """One sample of how late the event loop woke (seconds; the worst is kept too), its
    smoothed busy share and the host's."""
    global _worst_lag
    LOOP_BUSY.set(busy)
    HOST_BUSY.set(host)
    LOOP_LAG.observe(lag)
    if lag > _worst_lag:
        _worst_lag = lag
        LOOP_LAG_MAX.set(lag)


class RuntimeCollector(Collector):
    """`parley_asyncio_tasks` and `parley_threads`, counted when `/metrics` is scraped.

    A leak shows as a count that only grows, so the count is taken at scrape time rather than
    set on a timer that would lag it. The route is a plain `def` and runs in an anyio worker
    thread: the tasks are counted on the event loop's own thread (`anyio.from_thread`), not by
    reading the loop's task set from another thread. With several workers
    (PROMETHEUS_MULTIPROC_DIR) the route reads only the workers' shared files, so these two
    are absent there: one worker's count under a fleet-wide name would mislead.
    """

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # without describe() registering would call collect() at import, with no loop
        yield GaugeMetricFamily("parley_asyncio_tasks", _TASKS_HELP)
        yield GaugeMetricFamily("parley_threads", _THREADS_HELP)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        tasks = _loop_tasks()
        if tasks is not None:
            yield GaugeMetricFamily("parley_asyncio_tasks", _TASKS_HELP, value=tasks)
        yield GaugeMetricFamily("parley_threads", _THREADS_HELP, value=threading.active_count())


_TASKS_HELP = "asyncio tasks not yet done on this process's event loop."
_THREADS_HELP = "Python threads alive in this process (native threads are not counted)."


def _loop_tasks() -> int | None:
    """The loop's pending tasks, from its own thread or an anyio worker; None off both."""
    try:
        return len(asyncio.all_tasks())
    except RuntimeError:  # not on the loop's thread
        pass
    try:
        return anyio.from_thread.run_sync(lambda: len(asyncio.all_tasks()))
    except RuntimeError:  # not an anyio worker thread, or the loop has finished
        return None


REGISTRY.register(RuntimeCollector())

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
