"""What a server process does in the background to keep the store true.

- It registers as a worker, beats every `heartbeat_s` (with its load: live sessions, and
  whether it refuses new calls), and removes its row on a clean exit.
- Every `SWEEP_SECONDS` (and once at start-up) it expires sessions nobody joined in time
  and ends, as `system_error`, joined sessions whose worker died (see `store.workers`).
  The start-up sweep is what cleans up after a kill -9 and restart: a dead pid on this host
  is recognised at once.
- After each sweep it runs `after_sweep` (the server resumes documents whose reader died).
- After sessions have ended it hands freed memory back to the operating system. A session
  on the embedded stack frees tens of MB of native memory (its recogniser), which glibc's
  allocator keeps for reuse, so a server that held 12 calls stays at 500 MB with none:
  `malloc_trim` returns it (measured 506 -> 171 MB). It runs on a thread (ctypes releases
  the GIL), at most once a beat, and only where the C library has it.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import socket
from collections.abc import Awaitable, Callable

from parley.store import Store

log = logging.getLogger("parley.server")

SWEEP_SECONDS = 15.0
STALE_BEATS = 6  # a worker silent for this many beats is dead


def _malloc_trim() -> Callable[[], object] | None:
    """glibc's `malloc_trim(0)`, or None where the C library has no such thing."""
    name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    return None if trim is None else lambda: trim(0)


class Upkeep:
    def __init__(
        self,
        store: Store,
        heartbeat_s: float,
        sessions_ended: Callable[[], int] = lambda: 0,
        load: Callable[[], tuple[int, bool]] = lambda: (0, False),
    ) -> None:
        self.store = store
        self.heartbeat_s = heartbeat_s
        self._sessions_ended = sessions_ended
        self._load = load  # (live sessions, refusing new calls), told with every beat
        self._trimmed_at = 0  # sessions ended when memory was last handed back
        self._trim = _malloc_trim()
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.worker_id: str | None = None
        self.after_sweep: Callable[[], Awaitable[None]] | None = None  # e.g. resume reading
        self.on_beat: Callable[[], Awaitable[None]] | None = None  # e.g. renew bus places

    async def start(self) -> str:
        self.worker_id = await self.store.workers.register(self.host, self.pid)
        await self.sweep()
        return self.worker_id

    async def sweep(self) -> None:
        expired = await self.store.sessions.expire_due()
        if expired:
            log.info("expired %d unjoined session(s)", expired)
        orphans = await self.store.workers.end_orphans(self.host, self.heartbeat_s * STALE_BEATS)
        if orphans:
            log.warning("ended %d session(s) left active by a server that died", orphans)
        if self.after_sweep is not None:
            await self.after_sweep()

    async def run(self) -> None:
        """Beat and sweep until cancelled; a failing store is retried, never fatal."""
        assert self.worker_id is not None, "start() first"
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + SWEEP_SECONDS
        while True:
            await asyncio.sleep(self.heartbeat_s)
            await self.hand_back_memory()
            try:
                sessions, full = self._load()
                await self.store.workers.beat(self.worker_id, self.host, self.pid, sessions, full)
                if loop.time() >= next_sweep:
                    next_sweep = loop.time() + SWEEP_SECONDS
                    await self.sweep()
            except Exception:
                log.exception("store upkeep failed; retrying")
            if self.on_beat is not None:  # apart: a bus that fails must not stop the beat
                try:
                    await asyncio.wait_for(self.on_beat(), self.heartbeat_s)
                except Exception as exc:
                    log.warning("upkeep: %s", exc or type(exc).__name__)

    async def hand_back_memory(self) -> None:
        ended = self._sessions_ended()
        if self._trim is not None and ended != self._trimmed_at:
            self._trimmed_at = ended
            await asyncio.to_thread(self._trim)

    async def stop(self) -> None:
        if self.worker_id is not None:
            try:
                await self.store.workers.retire(self.worker_id)
            except Exception:
                log.exception("could not remove this worker's row")
