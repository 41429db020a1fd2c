"""What a server process does in the background to keep the store true.

- It registers as a worker, beats every `heartbeat_s`, and removes its row on a clean exit.
- Every `SWEEP_SECONDS` (and once at start-up) it expires sessions nobody joined in time
  and ends, as `system_error`, joined sessions whose worker died (see `store.workers`).
  The start-up sweep is what cleans up after a kill -9 and restart: a dead pid on this host
  is recognised at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

from parley.store import Store

log = logging.getLogger("parley.server")

SWEEP_SECONDS = 15.0
STALE_BEATS = 6  # a worker silent for this many beats is dead


class Upkeep:
    def __init__(self, store: Store, heartbeat_s: float) -> None:
        self.store = store
        self.heartbeat_s = heartbeat_s
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.worker_id: str | None = None

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

    async def run(self) -> None:
        """Beat and sweep until cancelled; a failing store is retried, never fatal."""
        assert self.worker_id is not None, "start() first"
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + SWEEP_SECONDS
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                await self.store.workers.beat(self.worker_id, self.host, self.pid)
                if loop.time() >= next_sweep:
                    next_sweep = loop.time() + SWEEP_SECONDS
                    await self.sweep()
            except Exception:
                log.exception("store upkeep failed; retrying")

    async def stop(self) -> None:
        if self.worker_id is not None:
            try:
                await self.store.workers.retire(self.worker_id)
            except Exception:
                log.exception("could not remove this worker's row")
