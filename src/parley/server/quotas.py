"""Concurrent WebSocket connections per credential, counted in this process.

One API key must not be able to hold every socket a process has (a leaked key, a client in
a reconnect loop). A slot is taken when a credential is admitted and given back when the
connection ends, whatever ends it. Counting is per process: behind a load balancer with N
processes a key can hold up to N × the limit; sessions per account, which the store counts,
are the cross-process limit.
"""

from __future__ import annotations

from collections import Counter

from parley.credentials import hash_secret


class ConnectionQuota:
    def __init__(self, per_credential: int) -> None:
        self.per_credential = per_credential  # 0: unlimited
        self._open: Counter[str] = Counter()

    def acquire(self, credential: str) -> str | None:
        """A slot (to `release` later), or None when the credential holds its limit."""
        slot = hash_secret(credential)
        if self.per_credential and self._open[slot] >= self.per_credential:
            return None
        self._open[slot] += 1
        return slot

    def release(self, slot: str) -> None:
        self._open[slot] -= 1
        if self._open[slot] <= 0:
            del self._open[slot]

    def held(self, credential: str) -> int:
        return self._open.get(hash_secret(credential), 0)
