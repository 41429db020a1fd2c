"""The control bus on Redis (the `redis` package's asyncio client).

- Ending sessions is a message on the `parley:end` channel; every process subscribes and
  ends those it holds. The subscription is re-made after a dropped connection (the store's
  poll, every few seconds, catches what was said meanwhile).
- An account's live sessions are a sorted set `parley:live:<account>` scored by when each
  place lapses. Joining runs one Lua script (atomic in Redis): drop lapsed places, refuse
  if `limit` remain, else add. The process holding a session renews its place with every
  heartbeat (adding it back if Redis lost it); a process that dies stops renewing, and its
  places lapse after `hold_s`. Places are scored by the renewing host's clock: hosts must
  keep time (NTP) within a fraction of `hold_s`.
- A Redis that does not answer within 2 s is an error, never a hung call: joins fall back to
  the store's count, endings to the store's poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as redis

from parley.bus.base import Bus, EndHandler, Hold

log = logging.getLogger("parley.bus")

CHANNEL = "parley:end"
RECONNECT_S = 1.0

_HOLD = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then return 2 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


def _live_key(account_id: str) -> str:
    return f"parley:live:{account_id}"


class RedisBus(Bus):
    keeps_limits = True

    def __init__(self, url: str, hold_s: float = 30.0) -> None:
        # commands never hang a call: a Redis that stops answering is an error in 2 s;
        # the subscription has its own connection, idle for long, checked by pings
        self._client: Any = redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._listening: Any = redis.from_url(
            url, socket_connect_timeout=2, health_check_interval=10
        )
        self._hold_ms = int(hold_s * 1000)
        self._hold_script = self._client.register_script(_HOLD)
        self._listener: asyncio.Task[None] | None = None

    async def start(self, on_end: EndHandler) -> None:
        await self._client.ping()  # a wrong URL stops the server at start, not at a call
        subscribed = asyncio.Event()
        self._listener = asyncio.create_task(self._listen(on_end, subscribed), name="parley-bus")
        await asyncio.wait_for(subscribed.wait(), 10)

    async def _listen(self, on_end: EndHandler, subscribed: asyncio.Event) -> None:
        while True:
            try:
                async with self._listening.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    subscribed.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._deliver(on_end, message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: try again, the store's poll covers
                log.warning("control bus: %s; resubscribing in %.0f s", exc, RECONNECT_S)
                await asyncio.sleep(RECONNECT_S)

    @staticmethod
    def _deliver(on_end: EndHandler, data: bytes | str) -> None:
        try:
            body = json.loads(data)
            ids, reason = [str(i) for i in body["ids"]], str(body["reason"])
        except (ValueError, KeyError, TypeError):
            log.warning("control bus: ignored a message that is not ours: %r", data[:200])
            return
        on_end(ids, reason)

    async def end_sessions(self, session_ids: Sequence[str], reason: str) -> None:
        """Published; if Redis cannot be reached the store already says they ended, and
        every process's poll of it ends them a few seconds later."""
        if not session_ids:
            return
        try:
            await self._client.publish(
                CHANNEL, json.dumps({"ids": list(session_ids), "reason": reason})
            )
        except Exception as exc:
            log.warning("control bus: could not publish an ending (%s); the store's poll will", exc)

    async def hold(self, account_id: str, session_id: str, limit: int) -> Hold:
        if not limit:
            return "held"
        now = int(time.time() * 1000)
        answer = await self._hold_script(
            keys=[_live_key(account_id)],
            args=[now, now + self._hold_ms, limit, session_id, self._hold_ms * 2],
        )
        return {0: "full", 1: "held", 2: "taken"}[int(answer)]  # type: ignore[return-value]

    async def release(self, account_id: str, session_id: str) -> None:
        await self._client.zrem(_live_key(account_id), session_id)

    async def refresh(self, held: Mapping[str, str]) -> None:
        """Renew the places of the sessions this process holds, adding back any Redis lost
        (a restart, a failover, places that lapsed while this process could not beat)."""
        if not held:
            return
        lapse = int(time.time() * 1000) + self._hold_ms
        async with self._client.pipeline(transaction=False) as pipe:
            for session_id, account_id in held.items():
                pipe.zadd(_live_key(account_id), {session_id: lapse})
                pipe.pexpire(_live_key(account_id), self._hold_ms * 2)
            await pipe.execute()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._client.aclose()
        await self._listening.aclose()
