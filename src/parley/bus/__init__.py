"""The control bus: what the processes of one deployment tell each other at once.

In one process it is a function call (`LocalBus`); with `PARLEY_REDIS_URL` it is Redis
(`RedisBus`): pub/sub to end sessions wherever they live (an agent deleted, a call hung up
over REST), and a sorted set per account that holds its live sessions, so the account's
limit is one atomic script under any number of concurrent joins on any number of hosts.
The store stays the record (sessions, messages, workers); the bus only makes it quick.
"""

from __future__ import annotations

from parley.bus.base import Bus, EndHandler
from parley.bus.local import LocalBus
from parley.config import Settings

__all__ = ["Bus", "EndHandler", "LocalBus", "for_settings"]


def for_settings(settings: Settings) -> Bus:
    if not settings.redis_url:
        return LocalBus()
    from parley.bus.redis_bus import RedisBus

    return RedisBus(settings.redis_url, hold_s=settings.heartbeat_seconds * 6)
