"""Audio from a synthesis thread, as the async stream a synthesiser returns.

The embedded synthesisers (espeak, Piper) run on threads of their own; a job hands each
chunk to a `deliver` callback on that thread, then `None` at the end or an exception. This
carries them to the event loop in order, raises a failure as a `ProviderError`, and sets
the job's abort flag whenever the stream ends, so closing the iterator (a barge-in) stops
the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable

from parley.providers.base import ProviderError, SpeechChunk

Item = SpeechChunk | BaseException | None
Deliver = Callable[[Item], None]


async def from_thread(
    provider: str, start: Callable[[Deliver], threading.Event]
) -> AsyncIterator[SpeechChunk]:
    """`start(deliver)` queues the job and returns its abort flag."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[Item] = asyncio.Queue()  # bounded by the text: a few dozen chunks

    def deliver(item: Item) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed under us
            loop.call_soon_threadsafe(chunks.put_nowait, item)

    aborted = start(deliver)
    try:
        while (item := await chunks.get()) is not None:
            if isinstance(item, BaseException):
                raise ProviderError(provider, str(item)) from item
            yield item
    finally:
        aborted.set()
