"""Twilio's side of a phone call, for tests and the phone benchmark: it reads the TwiML a
voice webhook answered, opens the Media Stream it names and speaks the protocol as Twilio
does (docs/protocols/twilio.md).

- It sends `connected`, then `start` with the stream's and call's SIDs, the `<Parameter>`s
  of the `<Stream>` and the μ-law 8 kHz media format.
- The caller's audio goes as `media` messages of 20 ms (160 μ-law bytes) in real time, with
  `sequenceNumber`, `chunk` and `timestamp` counting as Twilio's do.
- The agent's audio is buffered and "played" at real-time pace, 20 ms a tick, each piece
  `latency_s` after it arrived (the phone network and the handset's jitter buffer). A `mark`
  Parley sends is echoed only once the audio before it has played. A `clear` drops what
  is buffered and echoes the pending marks at once, as Twilio does.
- Keys go as `dtmf`, and hanging up sends `stop`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import xml.etree.ElementTree as ElementTree
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import websockets

FRAME_BYTES = 160  # 20 ms of μ-law at 8 kHz
FRAME_S = 0.02


@dataclass(frozen=True)
class StreamTwiml:
    url: str
    parameters: dict[str, str]


def read_twiml(twiml: str) -> StreamTwiml:
    """The `<Connect><Stream>` of a TwiML answer (ValueError if it has none)."""
    root = ElementTree.fromstring(twiml)
    stream = root.find("./Connect/Stream")
    if stream is None or not stream.get("url"):
        raise ValueError(f"no <Connect><Stream url=…> in {twiml!r}")
    parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    return StreamTwiml(stream.get("url", ""), parameters)


@dataclass
class Played:
    """What the far end heard and saw: the agent's audio as played, and every event."""

    audio: bytearray = field(default_factory=bytearray)
    marks_echoed: list[str] = field(default_factory=list)
    clears: list[float] = field(default_factory=list)  # loop times
    played_at_clear: list[int] = field(default_factory=list)  # bytes played by each clear
    first_audio_at: list[float] = field(default_factory=list)  # loop time of each reply's start
    last_audio_at: float = 0.0  # loop time of the last tick that played agent audio


class TwilioCall:
    def __init__(
        self,
        ws: Any,
        twiml: StreamTwiml,
        *,
        call_sid: str,
        account_sid: str,
        latency_s: float = 0.0,
    ) -> None:
        self._ws = ws
        self.twiml = twiml
        self.call_sid = call_sid
        self.account_sid = account_sid
        self.stream_sid = "MZ" + secrets.token_hex(16)
        self.played = Played()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.latency_s = latency_s
        self._buffer: deque[bytes | str] = deque()  # audio bytes and mark names, in order
        self._arriving: deque[tuple[float, bytes | str]] = deque()  # not yet playable
        self._sequence = 0
        self._chunk = 0
        self._silent = True  # nothing was playing at the last tick
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    @contextlib.asynccontextmanager
    async def answer(
        cls, twiml: str, *, call_sid: str, account_sid: str, latency_s: float = 0.0
    ) -> AsyncIterator[TwilioCall]:
        stream = read_twiml(twiml)
        async with websockets.connect(stream.url, max_size=2**20) as ws:
            call = cls(ws, stream, call_sid=call_sid, account_sid=account_sid, latency_s=latency_s)
            await call._start()
            try:
                yield call
            finally:
                for task in call._tasks:
                    task.cancel()
                await asyncio.gather(*call._tasks, return_exceptions=True)
                call._tasks = []  # each task's coroutine holds the call: no cycle is left

    async def _start(self) -> None:
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self._send(
            {
                "event": "start",
                "start": {
                    "streamSid": self.stream_sid,
                    "accountSid": self.account_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "customParameters": self.twiml.parameters,
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
            }
        )
        self._tasks = [asyncio.create_task(self._receive()), asyncio.create_task(self._play())]

    async def _send(self, message: dict[str, Any]) -> None:
        self._sequence += 1
        await self._ws.send(
            json.dumps(
                {**message, "sequenceNumber": str(self._sequence), "streamSid": self.stream_sid}
            )
            if message["event"] != "connected"
            else json.dumps(message)
        )

    # The caller ----------------------------------------------------------------------------

    async def say(self, mulaw: bytes) -> None:
        """Send the caller's audio as Twilio does: 20 ms `media` messages in real time."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        for index, offset in enumerate(range(0, len(mulaw), FRAME_BYTES)):
            if self.closed.is_set():
                return
            self._chunk += 1
            payload = base64.b64encode(mulaw[offset : offset + FRAME_BYTES]).decode("ascii")
            media = {
                "track": "inbound",
                "chunk": str(self._chunk),
                "timestamp": str(self._chunk * 20),
                "payload": payload,
            }
            with contextlib.suppress(websockets.ConnectionClosed):
                await self._send({"event": "media", "media": media})
            delay = began + (index + 1) * FRAME_S - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)

    async def press(self, digit: str) -> None:
        await self._send({"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": digit}})

    async def hang_up(self) -> None:
        """The caller hangs up: Twilio sends `stop` and closes the stream."""
        stop = {"accountSid": self.account_sid, "callSid": self.call_sid}
        with contextlib.suppress(websockets.ConnectionClosed):
            await self._send({"event": "stop", "stop": stop})
            await self._ws.close()

    # Twilio's player -----------------------------------------------------------------------

    async def _receive(self) -> None:
        try:
            async for frame in self._ws:
                message = json.loads(frame)
                kind = message.get("event")
                ready_at = asyncio.get_running_loop().time() + self.latency_s
                if kind == "media":
                    audio = base64.b64decode(message["media"]["payload"])
                    self._arriving.append((ready_at, audio))
                elif kind == "mark":
                    self._arriving.append((ready_at, message["mark"]["name"]))
                elif kind == "clear":
                    self.played.clears.append(asyncio.get_running_loop().time())
                    self.played.played_at_clear.append(len(self.played.audio))
                    waiting = [*self._buffer, *(item for _, item in self._arriving)]
                    pending = [item for item in waiting if isinstance(item, str)]
                    self._buffer.clear()
                    self._arriving.clear()
                    for name in pending:
                        await self._echo(name)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self._ws.close_code
            self.closed.set()

    async def _play(self) -> None:
        """Play 20 ms a tick; echo a mark once everything before it has played."""
        loop = asyncio.get_running_loop()
        began, tick = loop.time(), 0
        while True:
            now = loop.time()
            while self._arriving and self._arriving[0][0] <= now:
                self._buffer.append(self._arriving.popleft()[1])
            await self._echo_ready()
            budget = FRAME_BYTES
            while budget and self._buffer and isinstance(self._buffer[0], bytes):
                head = self._buffer.popleft()
                assert isinstance(head, bytes)
                take, rest = head[:budget], head[budget:]
                if rest:
                    self._buffer.appendleft(rest)
                if self._silent and take:
                    self.played.first_audio_at.append(loop.time())
                self._silent = False
                self.played.last_audio_at = loop.time()
                self.played.audio.extend(take)
                budget -= len(take)
            if budget == FRAME_BYTES:
                self._silent = True
            tick += 1
            await asyncio.sleep(max(0.0, began + tick * FRAME_S - loop.time()))

    async def _echo_ready(self) -> None:
        while self._buffer and isinstance(self._buffer[0], str):
            name = self._buffer.popleft()
            assert isinstance(name, str)
            await self._echo(name)

    async def _echo(self, name: str) -> None:
        self.played.marks_echoed.append(name)
        with contextlib.suppress(websockets.ConnectionClosed):
            await self._send({"event": "mark", "mark": {"name": name}})
