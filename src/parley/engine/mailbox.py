"""The actor's inbox: a deque and one waiting reader, for one consumer on one event loop.

`asyncio.Queue` does more than the actor needs (several readers, bounded puts, task
accounting with an `Event` cleared on every put) and costs for it: with a put and a get
for every caller frame and every VAD batch, the queue's own bookkeeping was the largest
single item the engine added to the event loop. This keeps only what the actor uses.

Invariants: items come out in the order they were put; `get` has at most one waiter (the
actor); a `put` wakes it, and a cancelled `get` loses nothing. Unbounded: the owner
measures `len()` and pushes back on its producers (see `Conversation.deliver`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Mailbox(Generic[T]):
    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def idle(self) -> bool:
        """The reader is parked on an empty mailbox (not merely woken and yet to run)."""
        waiter = self._waiter
        return not self._items and waiter is not None and not waiter.done()

    def put(self, item: T) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> T:
        while not self._items:
            assert self._waiter is None, "a mailbox has one reader"
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()
