"""Workers: which server processes are alive, and the sessions a dead one left behind.

A session lives in one process. If that process dies without ending it (kill -9, a crash,
a lost machine), nothing else would: the session would stay `active` forever. So each
process registers itself, beats every few seconds, and claims the sessions it joins; any
process's sweep ends (`system_error`) the joined, active sessions whose worker is dead:
its beat older than `stale_after`, or, on the sweeper's own host, its pid gone (so a
restart after kill -9 cleans up at once, not a beat later). A worker shut down cleanly
removes its own row.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parley.credentials import new_id
from parley.store.tables import Session, Worker


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, just not ours to signal
        return True
    return True


class Workers:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def register(self, host: str, pid: int) -> str:
        now = datetime.now(UTC)
        worker = Worker(id=new_id("wrk"), host=host, pid=pid, started_at=now, heartbeat_at=now)
        async with self._sessions.begin() as db:
            db.add(worker)
        return worker.id

    async def beat(
        self, worker_id: str, host: str, pid: int, sessions: int = 0, full: bool = False
    ) -> None:
        now = datetime.now(UTC)
        async with self._sessions.begin() as db:
            result = await db.execute(
                update(Worker)
                .where(Worker.id == worker_id)
                .values(heartbeat_at=now, sessions=sessions, full=full)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                # swept while this process was stalled: come back, its sessions are its own
                db.add(
                    Worker(
                        id=worker_id,
                        host=host,
                        pid=pid,
                        heartbeat_at=now,
                        sessions=sessions,
                        full=full,
                    )
                )

    async def others_with_room(self, worker_id: str | None, fresh_within: float) -> int:
        """Live workers other than this one that took new calls at their last beat."""
        since = datetime.now(UTC) - timedelta(seconds=fresh_within)
        query = select(func.count()).where(
            Worker.heartbeat_at >= since, Worker.full.is_(False), Worker.id != (worker_id or "")
        )
        async with self._sessions() as db:
            return int((await db.execute(query)).scalar_one())

    async def retire(self, worker_id: str) -> None:
        async with self._sessions.begin() as db:
            await db.execute(delete(Worker).where(Worker.id == worker_id))

    async def end_orphans(self, host: str, stale_after: float) -> int:
        """End the sessions whose worker is dead; returns how many. Dead workers are
        forgotten. Sessions with no worker come from a Parley that did not record one."""
        now = datetime.now(UTC)
        async with self._sessions.begin() as db:
            workers = (await db.execute(select(Worker.id, Worker.host, Worker.pid))).all()
            dead = [w.id for w in workers if w.host == host and w.pid and not pid_alive(w.pid)]
            if dead:
                await db.execute(delete(Worker).where(Worker.id.in_(dead)))
            await db.execute(
                delete(Worker).where(Worker.heartbeat_at < now - timedelta(seconds=stale_after))
            )
            alive = select(Worker.id)
            result = await db.execute(
                update(Session)
                .where(
                    Session.status == "active",
                    Session.joined_at.is_not(None),
                    or_(Session.worker_id.is_(None), Session.worker_id.not_in(alive)),
                )
                .values(status="ended", ended_at=now, end_reason="system_error")
            )
        return int(result.rowcount)  # type: ignore[attr-defined]
