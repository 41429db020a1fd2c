"""The bus of a single process: ending a session is a function call. Account limits are
the store's (a lock on the account's row), which also holds across processes that share a
database without Redis."""

from __future__ import annotations

from collections.abc import Sequence

from parley.bus.base import Bus, EndHandler


class LocalBus(Bus):
    def __init__(self) -> None:
        self._on_end: EndHandler | None = None

    async def start(self, on_end: EndHandler) -> None:
        self._on_end = on_end

    async def end_sessions(self, session_ids: Sequence[str], reason: str) -> None:
        if self._on_end is not None and session_ids:
            self._on_end(list(session_ids), reason)
