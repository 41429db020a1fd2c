"""Running the `parley` console script as a subprocess, as a user would."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

PARLEY = [sys.executable, "-m", "parley"]


def parley(
    env: dict[str, str], *args: str, ok: bool = True, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*PARLEY, *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(env: dict[str, str]) -> Iterator[str]:
    """`parley serve` on a free port until the block ends; yields its URL once it answers."""
    port = free_port()
    server = subprocess.Popen(
        [*PARLEY, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=15)
