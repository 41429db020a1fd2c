"""A client that stops reading is let go before it can grow the server's memory: once the
socket takes nothing for `client_stall_s`, the session ends as a disconnect (everything said
is stored) and the frames waiting for it are bounded."""

from __future__ import annotations

import asyncio
import json

from parley.dialects.limits import Limits
from parley.dialects.native.session import NativeSession
from parley.dialects.outbox import MAX_FRAMES
from parley.dialects.socket import Take
from parley.server.deps import Services
from parley.server.host import ServerHost
from parley.store import DEFAULT_ACCOUNT_ID
from tests.conftest import KEY_A


class StoppedReader:
    """A socket whose client reads `reads` frames, then nothing (its buffers are full)."""

    def __init__(self, frames: list[str], reads: int) -> None:
        self.inbound: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        for frame in frames:
            self.inbound.put_nowait(frame)
        self.sent: list[str | bytes] = []
        self._reads = reads
        self.closed = asyncio.Event()

    async def receive(self, take: Take | None = None) -> str | bytes | None:
        return await self.inbound.get()  # the client sends nothing more, but stays connected

    async def send(self, data: str | bytes) -> None:
        if len(self.sent) >= self._reads:
            await asyncio.Event().wait()  # blocked for good, as on a full TCP window
        self.sent.append(data)

    def send_now(self, data: str | bytes) -> bool:
        return False

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed.set()
        self.inbound.put_nowait(None)


async def test_a_client_that_stops_reading_is_let_go(services: Services) -> None:
    agent = await services.store.agents.create(
        DEFAULT_ACCOUNT_ID,
        {
            "name": "long",
            "voice_id": "default",
            "system_prompt": "Talk.",
            "stt": "fake-stt",
            "llm": "fake-llm:ttft=10,gap=1,tokens=5",
            "tts": "fake-tts:delay=10,seconds=600",  # ten minutes of reply
        },
    )
    start = {"type": "start", "payload": {"agent_id": agent.id, "binary_audio": True}}
    turn = {"type": "text", "payload": {"text": "go"}}
    socket = StoppedReader([json.dumps(start), json.dumps(turn)], reads=30)
    session = NativeSession(socket, ServerHost(services), KEY_A, Limits(client_stall_s=1.0))

    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.wait_for(session.run(), 15)
    took = loop.time() - began

    assert took < 1.0 + 3.0, f"let go after {took:.1f} s"
    assert len(services.live) == 0
    [stored] = (await services.store.sessions.list(DEFAULT_ACCOUNT_ID, limit=5, offset=0))[0]
    assert (stored.status, stored.end_reason) == ("ended", "disconnect")
    assert len(socket.sent) <= 30 < MAX_FRAMES
