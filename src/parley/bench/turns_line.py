"""The caller's end of one native session, for the turn-taking benchmark: a microphone
that never stops, and every message the server sends, timed on arrival.

Turn-taking is about silence, so the caller behaves as a real microphone does: from the
moment the session starts until it ends, one 20 ms frame leaves every 20 ms on a fixed
schedule (the room's noise floor, σ = 50, when the caller says nothing) and a clip is
mixed in at the next frame boundary. The loop time each clip frame left is kept, so a
moment in a clip (its onset, the end of its words, where its second half resumes) becomes
a moment on the caller's clock, as a live microphone would have it: a frame leaves once
its last sample is captured, so a sample `offset − k·20 ms` into frame k was made
`(k + 1)·20 ms − offset` before `sent[k]` (the end of speech is "the last speech frame
sent", as in the standard benchmark, to within the frame).

Messages are logged as `(arrival, type, payload)`; agent audio keeps only its byte count.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from websockets.exceptions import ConnectionClosed

from parley.audio.pcm import Int16Array
from parley.bench.corpus import NOISE_SIGMA
from parley.bench.turns_corpus import FRAME, Clip
from parley.bench.turns_espeak import RATE
from parley.client import VoiceClient

FRAME_S = FRAME / RATE
START = {"binary_audio": True, "audio": {"output": {"encoding": "linear16", "sample_rate": 16000}}}


@dataclass(frozen=True)
class Heard:
    at: float  # loop time of arrival
    type: str
    payload: dict[str, Any]


@dataclass
class Said:
    """A clip on the caller's clock: `sent[k]` is when its k-th frame left."""

    clip: Clip
    sent: list[float] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def moment(self, offset_s: float) -> float:
        """The loop time the sample `offset_s` into the clip was made."""
        k = min(len(self.sent) - 1, max(0, int(offset_s / FRAME_S)))
        return self.sent[k] - ((k + 1) * FRAME_S - offset_s)


class Line:
    def __init__(self, call: VoiceClient, seed: int = 0) -> None:
        self.call = call
        self.log: list[Heard] = []
        self._loop = asyncio.get_running_loop()
        self._noise = np.random.default_rng(seed)
        self._queue: deque[Said] = deque()

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str, seed: int = 0) -> AsyncIterator[Line]:
        """Connect and start; the microphone runs and the messages are read until the
        block ends (then `stop` is sent)."""
        async with VoiceClient.connect(url, start=START) as call:
            line = cls(call, seed)
            tasks = [asyncio.create_task(line._read()), asyncio.create_task(line._microphone())]
            try:
                yield line
            finally:
                for task in tasks:
                    task.cancel()
                with contextlib.suppress(ConnectionClosed):
                    await call.stop()

    def now(self) -> float:
        return self._loop.time()

    async def say(self, clip: Clip, at: float | None = None) -> Said:
        """Mix `clip` into the microphone (from loop time `at`, or the next frame), and
        return once its last frame has left."""
        if at is not None:
            await asyncio.sleep(max(0.0, at - self.now()))
        said = Said(clip)
        self._queue.append(said)
        await said.done.wait()
        return said

    async def _microphone(self) -> None:
        start, n = self.now(), 0
        with contextlib.suppress(ConnectionClosed):
            while True:
                frame = self._next_frame()
                await self.call.send_audio(frame.tobytes())
                n += 1
                await asyncio.sleep(max(0.0, start + n * FRAME_S - self.now()))

    def _next_frame(self) -> Int16Array:
        if not self._queue:
            return self._noise.normal(0, NOISE_SIGMA, FRAME).astype(np.int16)
        said = self._queue[0]
        k = len(said.sent)
        said.sent.append(self.now())
        if (k + 1) * FRAME >= said.clip.samples.size:
            self._queue.popleft()
            self._loop.call_soon(said.done.set)  # set once this frame is on its way
        return said.clip.samples[k * FRAME : (k + 1) * FRAME]

    async def _read(self) -> None:
        async for message in self.call.messages():
            payload = message["payload"]
            if message["type"] == "audio":
                payload = {"bytes": len(payload["data"])}
            self.log.append(Heard(self.now(), message["type"], payload))

    def since(self, at: float) -> list[Heard]:
        return [heard for heard in self.log if heard.at >= at]

    async def until(self, done: Callable[[], bool], within: float) -> bool:
        """Poll `done` every 20 ms for at most `within` seconds; whether it came true."""
        deadline = self.now() + within
        while not done():
            if self.now() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def last_audio(self) -> float:
        return next((h.at for h in reversed(self.log) if h.type == "audio"), 0.0)

    async def reply_over(self, after: float, gap: float = 0.8, within: float = 15.0) -> bool:
        """Until agent audio that arrived after `after` has gone quiet for `gap` s (at
        most `within` s for it to begin); whether a reply came at all."""
        if not await self.until(lambda: self.last_audio() > after, within):
            return False
        await self.until(lambda: self.now() - self.last_audio() >= gap, 60.0)
        return True
