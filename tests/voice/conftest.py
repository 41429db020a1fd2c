"""A real Parley server on a loopback port, and helpers to converse with it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from parley.client import ParleyClient, VoiceClient
from parley.config import Settings
from parley.server.runner import serving

KEY = "pk_voice_tests_key_0123456789abcdef"
QUICK = {  # fake providers: a whole turn in well under a second
    "stt": "fake-stt:delay=30",
    "llm": "fake-llm:ttft=30,gap=1,tokens=4",
    "tts": "fake-tts:delay=10,seconds=0.6",
}
Message = dict[str, Any]


@dataclass
class Server:
    base_url: str
    rest: ParleyClient
    settings: Settings

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/ws/voice"

    async def agent(self, **fields: Any) -> dict[str, Any]:
        body = {"name": "test", "voice_id": "default", "system_prompt": "Be brief."}
        return await self.rest.create_agent(**{**body, **fields})

    async def session_url(self, **agent_fields: Any) -> tuple[str, dict[str, Any]]:
        agent = await self.agent(**agent_fields)
        session = await self.rest.create_session(agent["id"])
        return session["websocket_url"], session


def server_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Admission control is off unless a test turns it on: tests share the machine's cores
    (and, in process, the server's event loop), so a busy moment must not refuse a call
    whose test is about something else. Turns end after a fixed silence and speech over the
    agent stops it at once unless a test says otherwise: most tests time turns to the
    millisecond; the semantic end of turn and confirmed barge-ins (the server's defaults)
    have tests of their own (tests/voice/test_turn_taking_live.py, tests/engine)."""
    pinned = {"admission": False, "turn_detection": "silence", "interruption": "immediate"}
    return Settings(data_dir=tmp_path, api_keys=(KEY,), **{**pinned, **overrides})


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    """Parley with the loudness VAD: tone is speech, quiet noise is not."""
    settings = server_settings(tmp_path, vad="fake-vad")
    async with serving(settings) as base, ParleyClient(base, KEY) as rest:
        yield Server(base, rest, settings)


async def collect(
    call: VoiceClient, until: Callable[[Message], bool], within: float = 10
) -> list[Message]:
    """Messages up to and including the first that satisfies `until` (within seconds)."""
    seen: list[Message] = []

    async def read() -> None:
        async for message in call.messages():
            seen.append(message)
            if until(message):
                return
        raise AssertionError(f"connection closed before the expected message; saw {kinds(seen)}")

    await asyncio.wait_for(read(), within)
    return seen


def kinds(messages: list[Message]) -> list[str]:
    out: list[str] = []
    for message in messages:
        if not (message["type"] == "audio" and out and out[-1] == "audio"):
            out.append(message["type"])
    return out


def of(messages: list[Message], kind: str) -> list[dict[str, Any]]:
    return [m["payload"] for m in messages if m["type"] == kind]


def tone(seconds: float, rate: int = 16000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * 300 * t) * 6000).astype(np.int16).tobytes()


def quiet(seconds: float, rate: int = 16000) -> bytes:
    return np.random.default_rng(3).normal(0, 30, int(rate * seconds)).astype(np.int16).tobytes()


async def stream(
    call: VoiceClient, pcm: bytes, *, frame_bytes: int = 640, binary: bool = True
) -> None:
    """Send audio in real time, 20 ms per 640-byte frame (16 kHz s16le)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for index, offset in enumerate(range(0, len(pcm), frame_bytes)):
        await call.send_audio(pcm[offset : offset + frame_bytes], binary=binary)
        delay = start + (index + 1) * frame_bytes / 32000 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
