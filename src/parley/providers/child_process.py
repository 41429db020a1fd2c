"""What the providers that run a model in a child process (Silero, smart-turn) share."""

from __future__ import annotations

import subprocess


def reap(process: subprocess.Popen[bytes]) -> None:
    """Wait for a worker that was told to stop; kill it if it has not within 5 s. Blocks:
    not on the event loop mid-call."""
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
