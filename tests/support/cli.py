"""Running the `parley` console script as a subprocess, as a user would."""

from __future__ import annotations

import socket
import subprocess
import sys

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
