"""A Parley server in its own process(es) for one benchmark level, and what it costs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from parley.credentials import new_api_key


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Sample:
    cpu_seconds: float
    rss_bytes: int
    # where the CPU went: each process's main thread (the event loop), its other threads
    # (database, speech), and its child processes (the VAD worker)
    cpu_parts: dict[str, float]
    at: float
    metrics: str


def wait_until_healthy(
    url: str, process: subprocess.Popen[bytes], why: str = "", timeout: float = 60
) -> None:
    """Wait for a starting `parley serve` to answer /healthz; RuntimeError if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {why}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not start within {timeout:.0f} s: {why}")


class BenchServer:
    def __init__(self, workers: int, env: dict[str, str] | None = None) -> None:
        self.workers = workers
        self._env = env or {}
        self.key = new_api_key()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._data = tempfile.TemporaryDirectory(prefix="parley-bench-")
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> BenchServer:
        env = {
            **os.environ,
            "PARLEY_DATA_DIR": self._data.name,
            "PARLEY_API_KEYS": self.key,
            "PARLEY_VAD": os.environ.get("BENCH_VAD", "silero"),
            "PARLEY_LOG_LEVEL": "warning",
            # every simulated caller is on one account and one key: the per-tenant limits
            # are not what a capacity benchmark measures
            "PARLEY_MAX_SESSIONS_PER_ACCOUNT": "0",
            "PARLEY_MAX_CONNECTIONS_PER_KEY": "0",
            **self._env,
        }
        log = open(Path(self._data.name) / "server.log", "wb")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "parley",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until_healthy(self.url, self._process, f"see {log.name}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._data.cleanup()

    def sample(self) -> Sample:
        """CPU time and memory of the server and its worker processes, and its metrics."""
        assert self._process is not None
        root = psutil.Process(self._process.pid)
        processes = [root, *root.children(recursive=True)]
        cpu, rss = 0.0, 0
        parts = {"loop": 0.0, "threads": 0.0, "children": 0.0}
        for process in processes:
            try:
                times = process.cpu_times()
                used = times.user + times.system
                cpu += used
                rss += process.memory_info().rss
                _split(process, used, parts)
            except psutil.NoSuchProcess:
                continue
        if self.workers > 1:
            rss -= root.memory_info().rss  # the supervisor holds no sessions
        metrics = httpx.get(f"{self.url}/metrics", timeout=10).text
        return Sample(cpu, rss, parts, time.monotonic(), metrics)


def _split(process: psutil.Process, total: float, parts: dict[str, float]) -> None:
    """Add a process's CPU to the loop / threads / children parts of a sample.

    A serving process (`parley serve` or one of its uvicorn workers) runs its event loop on
    the main thread; a helper process (the Silero VAD worker) counts whole as a child.
    """
    if any(arg.startswith("parley.providers.") for arg in process.cmdline()):
        parts["children"] += total
        return
    main = next((t for t in process.threads() if t.id == process.pid), None)
    loop = main.user_time + main.system_time if main else 0.0
    parts["loop"] += loop
    parts["threads"] += total - loop
