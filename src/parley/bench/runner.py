"""One benchmark level: a fresh server, a crowd of callers, the numbers in between.

The callers' process reports on its stdout: `measuring`, then `done`, and, when a progress
callback is given, `progress {json}` lines in between and before (bench/callers.py), which
the callback receives as they come: a level runs for a minute or more, and its live
figures are what tells whoever waits that it is getting somewhere.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil

from parley.bench.report import loop_lag, summarise, turn_components
from parley.bench.scenario import AGENT
from parley.bench.server import BenchServer
from parley.client import ParleyClient


async def _agent(server: BenchServer) -> str:
    async with ParleyClient(server.url, server.key) as rest:
        return str((await rest.create_agent(**AGENT))["id"])


OnProgress = Callable[[dict[str, Any]], None]


def run_level(
    sessions: int,
    seconds: float,
    warmup: float,
    workers: int,
    offered: bool = False,
    on_progress: OnProgress | None = None,
    progress_every: float = 1.0,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One level. `offered`: admission control on, callers may be refused; otherwise it is
    off and every caller is admitted, to measure what the server does past its capacity.
    `on_progress` gets the callers' `progress` figures every `progress_every` seconds (see
    bench/callers.py), called on this thread. `env`: more of the server's environment (a
    paired run's other tree on `PYTHONPATH`, bench/pair.py)."""
    # The scenario's providers are the server's defaults too, so that start-up warms them
    # and not the embedded neural models the scenario never uses (300 MB of RSS).
    defaults = {
        "PARLEY_STT": str(AGENT["stt"]),
        "PARLEY_TTS": str(AGENT["tts"]),
        "PARLEY_ADMISSION": "true" if offered else "false",
        **(env or {}),
    }
    with BenchServer(workers, defaults) as server, tempfile.TemporaryDirectory() as scratch:
        agent = asyncio.run(_agent(server))
        idle = server.sample()
        results = Path(scratch) / "turns.json"
        callers = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "parley.bench.callers",
                *("--url", server.url, "--key", server.key, "--agent", agent),
                *("--sessions", str(sessions), "--seconds", str(seconds)),
                *("--warmup", str(warmup), "--results", str(results)),
                *(["--offered"] if offered else []),
                *(["--progress-every", str(progress_every)] if on_progress else []),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert callers.stdout is not None
        lines = iter(callers.stdout.readline, "")
        if _next_word(lines, on_progress) != "measuring":
            raise RuntimeError("the callers did not start")
        start, callers_start = server.sample(), _cpu_seconds(callers.pid)
        if _next_word(lines, on_progress) != "done":
            raise RuntimeError("the callers stopped early")
        end, callers_end = server.sample(), _cpu_seconds(callers.pid)
        if callers.wait(timeout=120) != 0 or not results.exists():
            raise RuntimeError("the callers failed before reporting their turns")
        crowd = json.loads(results.read_text())
    turns = crowd["turns"]
    busy_rss = max(start.rss_bytes, end.rss_bytes)
    elapsed = end.at - start.at
    return {
        "sessions": sessions,
        "seconds": seconds,
        "workers": workers,
        "offered": sessions,
        "admitted": crowd["admitted"],
        "refused": crowd["refused"],
        "refusals": crowd["refusals"],
        **summarise(turns),
        "loop_lag_ms": loop_lag(start.metrics, end.metrics),
        "loop_busy": _gauge(end.metrics, "parley_event_loop_busy_ratio"),
        "host_busy": _gauge(end.metrics, "parley_host_cpu_busy_ratio"),
        "server_turn_mean_ms": turn_components(start.metrics, end.metrics),
        "server_cpu_percent": round((end.cpu_seconds - start.cpu_seconds) / elapsed * 100, 1),
        "server_cpu_parts": {  # the same, split: event loops, other threads, VAD worker
            part: round((end.cpu_parts[part] - start.cpu_parts[part]) / elapsed * 100, 1)
            for part in end.cpu_parts
        },
        # The load generator shares the machine: past a core of its own, what it measures
        # is its own lateness as much as the server's.
        "callers_cpu_percent": round((callers_end - callers_start) / elapsed * 100, 1),
        "server_rss_mb": round(busy_rss / 2**20, 1),
        "rss_per_session_mb": round((busy_rss - idle.rss_bytes) / 2**20 / max(1, sessions), 3),
    }


def _next_word(lines: Iterator[str], on_progress: OnProgress | None) -> str:
    """The callers' next `measuring`/`done` line ("" once they exit), handing the
    `progress` lines before it to `on_progress`."""
    for line in lines:
        word, _, rest = line.strip().partition(" ")
        if word != "progress":
            return word
        try:
            figures = json.loads(rest)
        except ValueError:  # a torn line is a missed update, not a failed level
            continue
        if on_progress is not None:
            on_progress(figures)
    return ""


def _cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _gauge(metrics: str, name: str) -> float | None:
    """A gauge's value in Prometheus text (the largest, if several processes report it)."""
    found = re.findall(rf"^{name}(?:{{[^}}]*}})? ([0-9.eE+-]+)$", metrics, re.MULTILINE)
    return max(float(value) for value in found) if found else None
