"""The soak: one fresh server, churning callers for a long run, the server sampled throughout.

The bug a soak hunts is memory (or fds, threads, tasks) kept after calls end, which no
40-second benchmark level shows. So the callers of the benchmark (`parley.bench.callers`) run
in churn mode: each holds a session for a few turns, ends it (by `stop`, a WebSocket close or
a dropped connection, in turn) and dials the next. Every `every` seconds the server process is
sampled with psutil (its own figures, and its child processes', such as the Silero VAD
worker, summed apart from it) and through `/metrics` (asyncio tasks, Python threads, sessions
live); `soak_report` fits the slopes and gives the verdict.

Three stacks: `fake`, the standard scenario's fake providers with the real Silero VAD
(Parley's own code under load); `embedded`, the light embedded stack (pocketsphinx, echo,
espeak), whose native libraries hold memory of their own; and `neural`, the default embedded
stack (Whisper, echo, Piper), whose shared decoders serve every session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

from parley.bench import scenario as sc
from parley.bench.server import BenchServer
from parley.bench.soak_report import SampleRow, verdicts
from parley.client import ParleyClient

MB = 2**20
DRAIN_S = 30.0  # how long the server may take to end its sessions once the callers have gone
FAKE_AGENT: dict[str, Any] = {**sc.AGENT, "name": "soak-fake"}
EMBEDDED_AGENT: dict[str, Any] = {
    "name": "soak-embedded",
    "voice_id": "en-us",
    "system_prompt": "Soak agent.",
    # the stack named, so that a PARLEY_STT (…) in the environment cannot swap it
    "stt": "pocketsphinx",
    "llm": "echo",
    "tts": "espeak",
    "vad": sc.AGENT["vad"],
    "max_turns": 10_000,
}
NEURAL_AGENT: dict[str, Any] = {
    **EMBEDDED_AGENT,
    "name": "soak-neural",
    "voice_id": "default",
    "stt": "whisper",
    "tts": "piper",
}
STACKS: dict[str, dict[str, Any]] = {
    "fake": FAKE_AGENT,
    "embedded": EMBEDDED_AGENT,
    "neural": NEURAL_AGENT,
}
DEFAULT_CALLERS = {"fake": 200, "embedded": 20, "neural": 4}


@dataclass(frozen=True)
class SoakConfig:
    stack: str
    callers: int
    minutes: float
    warmup_minutes: float = 3.0
    every: float = 10.0
    turns: tuple[int, int] = (3, 5)
    endings: tuple[str, ...] = ("stop", "close", "drop")
    tolerance: float = 0.10
    max_rss_mb: float = psutil.virtual_memory().total / MB / 2


class SoakServer(BenchServer):
    """The benchmark's server, one process, with what sampling it needs: its pid and log."""

    def __init__(self) -> None:
        super().__init__(workers=1)

    def __enter__(self) -> SoakServer:
        super().__enter__()
        return self

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def log_tail(self, lines: int = 15) -> str:
        log = Path(self._data.name) / "server.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


class CallerProcess:
    """The callers' process, its stdout read on a thread so that sampling never waits on it."""

    def __init__(self, argv: list[str]) -> None:
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        self.measuring = threading.Event()
        self.finished = threading.Event()  # `done`, or the process's stdout closed
        self.said_done = False
        self.status: dict[str, Any] = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            word, _, rest = line.strip().partition(" ")
            if word == "measuring":
                self.measuring.set()
            elif word == "status":
                self.status = json.loads(rest)
            elif word == "done":
                self.said_done = True
                self.finished.set()
        self.measuring.set()
        self.finished.set()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()

    def wait(self) -> int:
        try:
            return self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def process_figures(pid: int) -> SampleRow:
    """RSS, open fds and OS threads of the server process, and of its children summed apart:
    the Silero worker's batch buffers are not the sessions' memory."""
    root = psutil.Process(pid)
    with root.oneshot():
        figures: SampleRow = {
            "rss_mb": root.memory_info().rss / MB,
            "fds": float(root.num_fds()),
            "threads": float(root.num_threads()),
        }
    children = {"children_rss_mb": 0.0, "children_fds": 0.0, "children_threads": 0.0}
    count = 0
    for child in root.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            with child.oneshot():
                children["children_rss_mb"] += child.memory_info().rss / MB
                children["children_fds"] += child.num_fds()
                children["children_threads"] += child.num_threads()
            count += 1
    return {**figures, **children, "children": float(count)}


SCRAPED = {
    "parley_asyncio_tasks": "tasks",
    "parley_threads": "py_threads",
    "parley_sessions_live": "sessions_live",
}


def scrape(url: str) -> SampleRow:
    """What `/metrics` says: tasks, Python threads, sessions live, started and turns replied.
    A scrape that fails (an overloaded server) gives Nones, not an aborted soak."""
    found: SampleRow = dict.fromkeys((*SCRAPED.values(), "sessions_started", "turns_replied"))
    try:
        text = httpx.get(f"{url}/metrics", timeout=10).text
    except httpx.HTTPError:
        return found
    started = replied = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in SCRAPED:
                found[SCRAPED[sample.name]] = sample.value
            elif sample.name == "parley_sessions_started_total":
                started += sample.value
            elif sample.name == "parley_turn_latency_seconds_count":
                replied += sample.value if sample.labels.get("component") == "total" else 0.0
    return {**found, "sessions_started": started, "turns_replied": replied}


def sample(server: SoakServer, at: float | None) -> SampleRow:
    """One row: seconds since the callers had all dialled (None for the idle rows), figures."""
    try:
        figures = process_figures(server.pid)
    except psutil.NoSuchProcess:
        raise RuntimeError(f"the server exited; its log ends:\n{server.log_tail()}") from None
    return {"t": None if at is None else round(at, 1), **figures, **scrape(server.url)}


async def _agent(server: SoakServer, fields: dict[str, Any]) -> str:
    async with ParleyClient(server.url, server.key) as rest:
        return str((await rest.create_agent(**fields))["id"])


def _callers(server: SoakServer, agent: str, config: SoakConfig, results: Path) -> CallerProcess:
    return CallerProcess(
        [
            sys.executable,
            "-m",
            "parley.bench.callers",
            *("--url", server.url, "--key", server.key, "--agent", agent),
            *("--sessions", str(config.callers), "--seconds", str(config.minutes * 60)),
            *("--warmup", "0", "--results", str(results)),
            *("--churn", f"{config.turns[0]}-{config.turns[1]}"),
            *("--endings", ",".join(config.endings)),
            *("--status-every", str(config.every)),
        ]
    )


OnSample = Callable[[SampleRow, dict[str, Any]], None]


def _watch(
    server: SoakServer, callers: CallerProcess, config: SoakConfig, on_sample: OnSample
) -> tuple[list[SampleRow], str | None]:
    """Sample every `every` seconds until the callers finish; stop them at the RSS ceiling.

    No sample is taken in the run's last second: the callers, whose clock started a moment
    before this one, are hanging up by then, and a row of ended sessions is not the soak's."""
    samples: list[SampleRow] = []
    start = time.monotonic()
    last_at = start + config.minutes * 60 - 1.0
    while time.monotonic() < last_at:
        row = sample(server, time.monotonic() - start)
        samples.append(row)
        on_sample(row, callers.status)
        rss = (row["rss_mb"] or 0.0) + (row["children_rss_mb"] or 0.0)
        if rss > config.max_rss_mb:
            callers.stop()
            return samples, f"RSS {rss:.0f} MB passed the {config.max_rss_mb:.0f} MB ceiling"
        next_at = start + len(samples) * config.every
        if callers.finished.wait(max(0.0, next_at - time.monotonic())):
            return samples, None
    callers.finished.wait(timeout=120)
    return samples, None


def run_soak(config: SoakConfig, on_sample: OnSample = lambda row, status: None) -> dict[str, Any]:
    """One soak run on a fresh server: every sample, the idle figures around it, the verdicts."""
    with SoakServer() as server, tempfile.TemporaryDirectory() as scratch:
        agent = asyncio.run(_agent(server, STACKS[config.stack]))
        idle_before = sample(server, None)
        callers = _callers(server, agent, config, Path(scratch) / "turns.json")
        try:
            if not callers.measuring.wait(timeout=300) or callers.finished.is_set():
                raise RuntimeError("the callers did not get their sessions started")
            samples, aborted = _watch(server, callers, config, on_sample)
        finally:
            if not callers.said_done:
                callers.stop()
            code = callers.wait()
        if aborted is None and (code != 0 or not callers.said_done):
            raise RuntimeError("the callers failed during the soak")
        drain_s, idle_after = drain(server)
    return summary(config, samples, (idle_before, idle_after), drain_s, callers.status, aborted)


def drain(server: SoakServer) -> tuple[float | None, SampleRow]:
    """Wait for the server to end every session once the callers have gone, then sample it
    idle. Seconds it took, or None if sessions were still live after DRAIN_S: a session the
    server keeps although its caller has left is the leak itself, whatever the slopes say."""
    start = time.monotonic()
    while (waited := time.monotonic() - start) < DRAIN_S:
        if scrape(server.url)["sessions_live"] == 0:
            time.sleep(1.0)  # the sessions' last tasks finishing
            return round(waited, 1), sample(server, None)
        time.sleep(0.5)
    return None, sample(server, None)


def summary(
    config: SoakConfig,
    samples: list[SampleRow],
    idle: tuple[SampleRow, SampleRow],
    drain_s: float | None,
    status: dict[str, Any],
    aborted: str | None,
) -> dict[str, Any]:
    """Everything the soak saw, as JSON: the config, every sample, slopes and verdicts. The run
    is flat if every metric is, it ran to the end, and the server ended every session."""
    warmup_s = config.warmup_minutes * 60
    metrics = verdicts(samples, warmup_s, config.tolerance)
    measured_s = max(0.0, (samples[-1]["t"] or 0.0) - warmup_s) if samples else 0.0
    not_flat = [key for key, found in metrics.items() if not found["flat"]]
    return {
        "stack": config.stack,
        "callers": config.callers,
        "minutes": config.minutes,
        "warmup_minutes": config.warmup_minutes,
        "measured_minutes": round(measured_s / 60, 2),
        "every_s": config.every,
        "turns_per_session": list(config.turns),
        "endings": list(config.endings),
        "tolerance": config.tolerance,
        "max_rss_mb": round(config.max_rss_mb),
        "aborted": aborted,
        "callers_status": status,
        "idle_before": idle[0],
        "idle_after": idle[1],
        "drain_s": drain_s,
        "metrics": metrics,
        "not_flat": not_flat,
        "flat": not not_flat and aborted is None and drain_s is not None,
        "samples": samples,
    }
