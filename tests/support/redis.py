"""A throw-away Redis server for the test session, from Debian's `redis-server`.

`PARLEY_TEST_REDIS_URL` points the tests at an existing server instead. With
`PARLEY_REQUIRE_REDIS` set (as `.ci/run` does), a missing server fails the tests that
need it instead of skipping them.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.cli import free_port


@dataclass
class RedisServer:
    url: str
    process: subprocess.Popen[bytes] | None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


def start_redis(scratch: Path) -> RedisServer | str:
    """A running server, or the reason there cannot be one."""
    binary = shutil.which("redis-server")
    if binary is None:
        return "no redis-server (install Debian's redis-server package)"
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=scratch,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    cli = shutil.which("redis-cli")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"redis-server exited with {process.returncode}"
        if cli is None:
            time.sleep(0.5)
            break
        ping = subprocess.run([cli, "-p", str(port), "ping"], capture_output=True, text=True)
        if ping.stdout.strip() == "PONG":
            break
        time.sleep(0.05)
    return RedisServer(f"redis://127.0.0.1:{port}/0", process)
