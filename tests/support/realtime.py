"""An OpenAI Realtime conversation through the official `openai` SDK, for tests.

`connect` opens `client.realtime.connect` (GA) or `client.beta.realtime.connect` (beta)
against a Parley server by changing only the base URLs and the key, as an application
would. `Call` keeps every server event the SDK parsed, checks each against the SDK's own
event types (a field of the wrong type or a missing required one fails the test), and lets
a test wait for the event it expects.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from openai import AsyncOpenAI
from pydantic import TypeAdapter

from parley.audio.g711 import pcm_to_ulaw
from parley.audio.resample import Resampler

FRAME_MS = 40
RATE = 24000


def _adapters() -> dict[bool, TypeAdapter[Any]]:
    from openai.types.beta.realtime import RealtimeServerEvent as BetaEvent
    from openai.types.realtime import RealtimeServerEvent as GaEvent

    return {False: TypeAdapter(GaEvent), True: TypeAdapter(BetaEvent)}


ADAPTERS = _adapters()
# Events the SDK's unions do not list, which Parley sends as OpenAI documents them.
UNLISTED = {"conversation.item.done", "conversation.item.added"}


class Call:
    def __init__(self, connection: Any, beta: bool) -> None:
        self.connection = connection
        self.beta = beta
        self.events: list[Any] = []
        self.audio = bytearray()
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for event in self.connection:
            raw = event.to_dict()
            if raw["type"] not in UNLISTED:
                ADAPTERS[self.beta].validate_python(raw)  # the SDK's own shapes, strictly
            self.events.append(event)
            if raw["type"] in ("response.output_audio.delta", "response.audio.delta"):
                self.audio += base64.b64decode(raw["delta"])
            self._changed.set()

    def of(self, kind: str) -> list[Any]:
        return [event for event in self.events if event.type == kind]

    def kinds(self) -> list[str]:
        names: list[str] = []
        for event in self.events:
            if not (names and names[-1] == event.type and event.type.endswith(".delta")):
                names.append(event.type)
        return names

    async def wait(self, done: Callable[[], Any], within: float = 10) -> Any:
        async with asyncio.timeout(within):
            while not (found := done()):
                if self._task.done():
                    self._task.result()
                    raise AssertionError(f"the connection closed; events: {self.kinds()}")
                self._changed.clear()
                await self._changed.wait()
        return found

    async def next(self, kind: str, after: int = 0, within: float = 10) -> Any:
        """The first `kind` event at index `after` or later."""
        return await self.wait(
            lambda: next((e for e in self.events[after:] if e.type == kind), None), within
        )

    async def send_audio(
        self, pcm: bytes, *, realtime: bool = True, rate: int = RATE, width: int = 2
    ) -> None:
        """Audio (24 kHz pcm16 unless told) in 40 ms appends, paced like a microphone
        unless `realtime` is off."""
        step = rate * width * FRAME_MS // 1000
        for start in range(0, len(pcm), step):
            chunk = pcm[start : start + step]
            await self.connection.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
            if realtime:
                await asyncio.sleep(FRAME_MS / 1000)

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


@asynccontextmanager
async def connect(
    base_url: str, key: str, *, beta: bool = False, model: str = "gpt-realtime"
) -> AsyncIterator[Call]:
    client = AsyncOpenAI(
        api_key=key,
        base_url=base_url + "/v1",
        websocket_base_url=base_url.replace("http://", "ws://") + "/v1",
    )
    realtime = client.beta.realtime if beta else client.realtime
    async with realtime.connect(model=model) as connection:
        call = Call(connection, beta)
        try:
            yield call
        finally:
            await call.close()
    await client.close()


def at_24k(samples: np.ndarray, rate: int = 16000) -> bytes:
    resampler = Resampler(rate, RATE, "HQ")
    out = np.concatenate([resampler.process(samples), resampler.flush()])
    return out.astype(np.int16).tobytes()


def tone(seconds: float) -> bytes:
    t = np.arange(int(RATE * seconds))
    return (np.sin(t / 4.5) * 6000).astype(np.int16).tobytes()


def mulaw(pcm24k: bytes) -> bytes:
    """24 kHz pcm16 as 8 kHz μ-law, as a phone line carries it."""
    samples = np.frombuffer(pcm24k, dtype=np.int16)
    resampler = Resampler(RATE, 8000, "HQ")
    narrow = np.concatenate([resampler.process(samples), resampler.flush()])
    return pcm_to_ulaw(narrow.astype(np.int16))


def quiet(seconds: float) -> bytes:
    noise = np.random.default_rng(3).normal(0, 20, int(RATE * seconds))
    return noise.astype(np.int16).tobytes()
