"""A native-dialect voice client (docs/protocols/native.md) over `websockets`.

    async with VoiceClient.connect(url, start={"binary_audio": True}) as call:
        call.on_tool_call(lambda tool: {"status": "shipped"})  # answers each call once
        await call.stream_file(Path("question.flac"))           # in real time, 20 ms frames
        async for message in call.messages():
            ...

Messages are the server's frames as `{"type", "payload"}` dicts; with binary output audio,
audio arrives as `{"type": "audio", "payload": {"data": <bytes>, "seq": n}}` so both kinds
read alike, and `payload["data"]` of every audio message is raw bytes.

Real-time sending matters: the server's turn-taking (voice activity, endpointing, barge-in)
runs on the audio's own timeline, and it accepts only a couple of seconds beyond real time
(`PARLEY_AUDIO_BURST_MS`), so a file sent all at once is both mistimed and clipped.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import json
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from parley.audio.convert import encode
from parley.audio.formats import Encoding
from parley.audio.sound import load_audio

Message = dict[str, Any]
ToolHandler = Callable[[dict[str, Any]], Any]
"""Given a `tool_call` payload (`id`, `name`, `arguments`, …); returns the result to send
(any JSON value, or an awaitable of one), or None to answer later with `tool_result`."""

FRAME_S = 0.02  # the 20 ms frame a microphone delivers, and the server's own frame
_BYTES_PER_SAMPLE = {"linear16": 2, "mulaw": 1, "alaw": 1}
_ENCODINGS: dict[str, Encoding] = {"linear16": "linear16", "mulaw": "mulaw", "alaw": "alaw"}


class VoiceClient:
    def __init__(
        self,
        connection: ClientConnection,
        binary: bool,
        *,
        encoding: str = "linear16",
        sample_rate: int = 16000,
    ) -> None:
        self._ws = connection
        self._binary = binary
        self._audio_seq = 0
        self.started: Message = {}
        self.encoding = encoding  # of the audio sent: the start payload's `audio.input`
        self.sample_rate = sample_rate
        self._bytes_per_second = sample_rate * _BYTES_PER_SAMPLE.get(encoding, 2)
        self._next_send = -math.inf  # loop time the next real-time frame is due
        self._tool_handler: ToolHandler | None = None
        self._tools_seen: set[str] = set()
        self._tool_tasks: set[asyncio.Task[None]] = set()

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, url: str, *, start: dict[str, Any] | None = None, open_timeout: float = 10
    ) -> AsyncIterator[VoiceClient]:
        """Connect, send `start`, and wait for `started` (raises on an `error` instead)."""
        payload = dict(start or {})
        audio_in = (payload.get("audio") or {}).get("input") or {}
        async with connect(url, open_timeout=open_timeout, max_size=None) as connection:
            client = cls(
                connection,
                binary=bool(payload.get("binary_audio")),
                encoding=str(audio_in.get("encoding", "linear16")),
                sample_rate=int(audio_in.get("sample_rate", 16000)),
            )
            await client.send("start", payload)
            async for message in client.messages():
                if message["type"] == "started":
                    client.started = message["payload"]
                    break
                if message["type"] == "error":
                    raise VoiceError(message["payload"])
            try:
                yield client
            finally:
                for task in client._tool_tasks:  # answers the call no longer needs
                    task.cancel()

    @property
    def session_id(self) -> str:
        return str(self.started.get("session_id", ""))

    async def send(self, kind: str, payload: dict[str, Any] | None = None) -> None:
        await self._ws.send(json.dumps({"type": kind, "payload": payload or {}}))

    async def send_audio(self, data: bytes, *, binary: bool = True, realtime: bool = False) -> None:
        """Audio in the session's input format. At once by default (the caller paces it);
        `realtime=True` sends 20 ms frames one per 20 ms on the event loop's clock, on one
        schedule across calls, so a loop of `send_audio(frame, realtime=True)` keeps time
        without drifting. After a pause (nothing due for over a frame) the schedule starts
        afresh instead of catching up in a burst."""
        if not realtime:
            await self._send_chunk(data, binary)
            return
        loop = asyncio.get_running_loop()
        step = max(1, int(self._bytes_per_second * FRAME_S))
        for offset in range(0, len(data), step):
            chunk = data[offset : offset + step]
            now = loop.time()
            if self._next_send < now - FRAME_S:
                self._next_send = now
            elif self._next_send > now:
                await asyncio.sleep(self._next_send - now)
            await self._send_chunk(chunk, binary)
            self._next_send += len(chunk) / self._bytes_per_second

    async def stream_file(
        self, path: Path | str, *, realtime: bool = True, silence_after: float = 0.0
    ) -> float:
        """Say an audio file (WAV, FLAC, OGG, … anything libsndfile reads): mixed to mono,
        resampled and encoded to the session's input format, sent in real time as 20 ms
        frames. `silence_after` seconds of silence follow, because the server hears a turn
        end in the quiet after it, as a microphone would keep sending. Returns the file's
        length in seconds. A file that cannot be read is a ValueError saying why."""
        samples = await asyncio.to_thread(load_audio, Path(path), self.sample_rate)
        encoding = _ENCODINGS.get(self.encoding, "linear16")
        await self.send_audio(encode(samples, encoding), binary=True, realtime=realtime)
        if silence_after > 0:
            quiet = np.zeros(int(silence_after * self.sample_rate), dtype=np.int16)
            await self.send_audio(encode(quiet, encoding), binary=True, realtime=realtime)
        return samples.size / self.sample_rate

    async def _send_chunk(self, data: bytes, binary: bool) -> None:
        if binary:
            await self._ws.send(data)
        else:
            await self.send("audio", {"data": base64.b64encode(data).decode()})

    def on_tool_call(self, handler: ToolHandler | None) -> ToolHandler | None:
        """Answer client-side tool calls with `handler` (usable as a decorator; None stops).

        It is called once per call the agent asks for (`tool_call` with status
        `requested`), never for the `running`/`completed` updates that follow, and what it
        returns is sent as the `tool_result`: an exception's text is sent as
        `{"error": ...}` so the agent hears that the tool failed instead of waiting for its
        timeout. It runs as `messages()` reads the call, in a task of its own, so a slow
        tool does not hold up the audio; the messages are still all yielded."""
        self._tool_handler = handler
        return handler

    def _dispatch_tool_call(self, payload: dict[str, Any]) -> None:
        call_id = str(payload.get("id", ""))
        if payload.get("status") != "requested" or call_id in self._tools_seen:
            return
        self._tools_seen.add(call_id)
        task = asyncio.create_task(self._answer(call_id, payload))
        self._tool_tasks.add(task)
        task.add_done_callback(self._tool_tasks.discard)

    async def _answer(self, call_id: str, payload: dict[str, Any]) -> None:
        handler = self._tool_handler
        if handler is None:
            return
        try:
            result = handler(payload)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:  # the tool's failure is the agent's to hear
            result = {"error": f"{type(exc).__name__}: {exc}"}
        if result is not None:
            with contextlib.suppress(ConnectionClosed):
                await self.tool_result(call_id, result)

    async def say(self, text: str) -> None:
        await self.send("text", {"text": text})

    async def interrupt(self) -> None:
        await self.send("interrupt")

    async def tool_result(self, call_id: str, result: Any) -> None:
        await self.send("tool_result", {"id": call_id, "result": result})

    async def played(self, ms: float) -> None:
        await self.send("played", {"ms": ms})

    async def stop(self) -> None:
        await self.send("stop")

    async def messages(self) -> AsyncIterator[Message]:
        """Every message until the server closes the connection."""
        try:
            async for frame in self._ws:
                if isinstance(frame, bytes):
                    self._audio_seq += 1
                    yield {"type": "audio", "payload": {"data": frame, "seq": self._audio_seq - 1}}
                    continue
                message: Message = json.loads(frame)
                if message.get("type") == "audio":
                    message["payload"]["data"] = base64.b64decode(message["payload"]["data"])
                elif message.get("type") == "tool_call" and self._tool_handler is not None:
                    self._dispatch_tool_call(message.get("payload") or {})
                yield message
        except ConnectionClosed:
            return


class VoiceError(Exception):
    """The server refused the session (`error` before `started`)."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(f"{payload.get('code')}: {payload.get('message')}")
        self.code = str(payload.get("code"))
        self.payload = payload
