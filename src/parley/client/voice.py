"""A native-dialect voice client (docs/protocols.md §2) over `websockets`.

    async with VoiceClient.connect(url, start={"binary_audio": True}) as call:
        await call.send_audio(pcm)
        async for message in call.messages():
            ...

Messages are the server's frames as `{"type", "payload"}` dicts; with binary output audio,
audio arrives as `{"type": "audio", "payload": {"data": <bytes>, "seq": n}}` so both kinds
read alike, and `payload["data"]` of every audio message is raw bytes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

Message = dict[str, Any]


class VoiceClient:
    def __init__(self, connection: ClientConnection, binary: bool) -> None:
        self._ws = connection
        self._binary = binary
        self._audio_seq = 0
        self.started: Message = {}

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, url: str, *, start: dict[str, Any] | None = None, open_timeout: float = 10
    ) -> AsyncIterator[VoiceClient]:
        """Connect, send `start`, and wait for `started` (raises on an `error` instead)."""
        payload = dict(start or {})
        async with connect(url, open_timeout=open_timeout, max_size=None) as connection:
            client = cls(connection, binary=bool(payload.get("binary_audio")))
            await client.send("start", payload)
            async for message in client.messages():
                if message["type"] == "started":
                    client.started = message["payload"]
                    break
                if message["type"] == "error":
                    raise VoiceError(message["payload"])
            yield client

    @property
    def session_id(self) -> str:
        return str(self.started.get("session_id", ""))

    async def send(self, kind: str, payload: dict[str, Any] | None = None) -> None:
        await self._ws.send(json.dumps({"type": kind, "payload": payload or {}}))

    async def send_audio(self, data: bytes, *, binary: bool = True) -> None:
        if binary:
            await self._ws.send(data)
        else:
            await self.send("audio", {"data": base64.b64encode(data).decode()})

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
                yield message
        except ConnectionClosed:
            return


class VoiceError(Exception):
    """The server refused the session (`error` before `started`)."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(f"{payload.get('code')}: {payload.get('message')}")
        self.code = str(payload.get("code"))
        self.payload = payload
