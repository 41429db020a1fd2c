"""SIGTERM (and Ctrl-C) drain the process instead of cutting its calls.

uvicorn, on SIGTERM, closes every connection at once: each caller would be cut mid-sentence.
While the app starts, the handler in place for SIGTERM/SIGINT is uvicorn's own (its server
installs it around serving, in every worker, and restores the previous one afterwards), so
the lifespan wraps it: the first signal starts the drain (readiness off, new sessions refused
with a clear error, live calls get `drain_s` to finish, then the rest are ended with a
goodbye and their transcripts stored) and only then hands the signal to uvicorn, which stops
the server as usual. A second signal during the drain goes straight to uvicorn (a second
Ctrl-C forces the exit). Where the handler is not uvicorn's (another host, not the main
thread), nothing is installed and shutdown ends live sessions from the lifespan as before.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from parley.server.live import LiveSessions

log = logging.getLogger("parley.server")

END_GRACE_S = 5.0  # after the drain: how long ended sessions get to say goodbye and close
SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _is_uvicorns(handler: Any) -> bool:
    owner = getattr(handler, "__self__", None)
    return type(owner).__module__.startswith("uvicorn") and callable(handler)


def install(live: LiveSessions, drain_s: float) -> Callable[[], None]:
    """Wrap uvicorn's signal handlers with a drain; returns the undo (for the lifespan's end)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    found = {int(sig): signal.getsignal(sig) for sig in SIGNALS}
    if not all(_is_uvicorns(handler) for handler in found.values()):
        return lambda: None
    originals: dict[int, Callable[[int, FrameType | None], Any]] = {
        sig: handler for sig, handler in found.items() if callable(handler)
    }
    tasks: set[asyncio.Task[None]] = set()

    async def drain_then_stop(sig: int) -> None:
        try:
            await live.drain(drain_s, END_GRACE_S)
        except Exception:
            log.exception("drain failed; stopping anyway")
        finally:
            originals[sig](sig, None)

    def on_signal(sig: int, frame: FrameType | None) -> None:
        if live.draining:  # a second signal: uvicorn's own handling (forced exit on Ctrl-C)
            originals[sig](sig, frame)
            return
        live.draining = True
        log.info("received %s: draining before shutdown", signal.Signals(sig).name)

        def start() -> None:
            task = loop.create_task(drain_then_stop(sig), name="parley-drain")
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        loop.call_soon_threadsafe(start)

    for sig in SIGNALS:
        signal.signal(sig, on_signal)

    def undo() -> None:
        for sig, handler in originals.items():
            if signal.getsignal(sig) is on_signal:
                signal.signal(sig, handler)

    return undo
